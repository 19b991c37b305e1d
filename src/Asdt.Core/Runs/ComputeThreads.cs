using TorchSharp;

namespace Asdt.Runs;

/// <summary>
/// One thread budget for a process: a <c>--threads N</c> (N &gt; 0) caps libtorch's intra-op pool as well as
/// our CRF, energy-loss and scoring workers, so two 1-thread jobs side by side on a 2-core machine do not
/// oversubscribe it (libtorch otherwise takes every core for each). 0 leaves libtorch's thread count as it is (all cores unless
/// something in this process capped it).
/// </summary>
public static class ComputeThreads
{
    /// <summary>Worker count for our own parallel loops: <paramref name="threads"/>, or every core for 0.</summary>
    public static int Workers(int threads) => threads > 0 ? threads : Environment.ProcessorCount;

    /// <summary>Caps libtorch's intra-op threads at <paramref name="threads"/> when it is positive; returns <see cref="Workers"/>.</summary>
    public static int Apply(int threads)
    {
        if (threads < 0) throw new AsdtException($"threads must be 0 (all cores) or positive (got {threads})");
        if (threads > 0 && torch.get_num_threads() != threads) torch.set_num_threads(threads);
        return Workers(threads);
    }
}
