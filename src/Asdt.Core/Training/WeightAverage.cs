using System.Globalization;
using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>
/// Exponential moving averages of the weights the ASDT iterations train (<see cref="Stage1Config.AverageDecays"/>): for each
/// decay d, w̄ ← d·w̄ + (1 − d)·w after every update, started from the weights the first ASDT iteration starts from.
/// </summary>
/// <remarks>
/// <para>Not in the paper or ALGORITHM.md: an option of ours. A run's masks come from its last weights, and on MSRC a class
/// can swap with another from one 100-iteration checkpoint to the next (docs/results.md, "When does the face split show on
/// val?"); averaged weights (Polyak averaging, as in mean-teacher and SWA) may hold it steadier. The averages are a shadow:
/// training never reads them, so a run with them ends with exactly the weights of the run without (Stage1TrainingTests).
/// Inference uses them on request (<c>--average d</c> of eval-run and psm; <see cref="Stage1Run.Open"/>).</para>
/// <para>Averaged are the parameters that are trainable when the ASDT iterations start (frozen ones never move, and the
/// BatchNorm statistics are frozen); they are saved with the checkpoint as extra tensors named
/// <c>average:&lt;d&gt;:&lt;parameter&gt;</c>, so a resumed run continues its averages exactly.</para>
/// </remarks>
public sealed class WeightAverage : IDisposable
{
    const string Prefix = "average:";

    readonly double[] decays;
    readonly Dictionary<double, Dictionary<string, Tensor>> averages = [];
    /// <summary>1 − d per decay, made once on the parameters' device (not a temporary tensor per parameter and update).</summary>
    readonly Dictionary<double, Tensor> steps = [];
    Dictionary<string, TorchSharp.Modules.Parameter> parameters = [];

    /// <summary>Averages with these decays, not started yet (<see cref="Start"/>, <see cref="TryLoad"/>).</summary>
    public WeightAverage(IReadOnlyList<double> decays)
    {
        Validate(decays, "averageDecays");
        this.decays = [.. decays];
    }

    /// <summary>Checks that every decay lies in [0, 1) and none repeats (<paramref name="source"/> names where they came from).</summary>
    public static void Validate(IReadOnlyList<double> decays, string source)
    {
        foreach (double d in decays)
            if (!(d >= 0 && d < 1)) throw new AsdtException(source, $"an average's decay must be in [0, 1) (got {Format(d)})");
        if (decays.Distinct().Count() != decays.Count) throw new AsdtException(source, $"the average decays repeat a value ({string.Join(", ", decays.Select(Format))})");
    }

    /// <summary>Starts (or restarts) every average at the network's current trainable weights.</summary>
    public void Start(nn.Module network)
    {
        Clear();
        parameters = Trainable(network);
        using var noGrad = no_grad();
        foreach (double d in decays)
            averages[d] = parameters.ToDictionary(p => p.Key, p => p.Value.detach().clone().DetachFromDisposeScope());
        MakeSteps();
    }

    /// <summary>Restores the averages saved with a checkpoint (<see cref="Tensors"/>); false when it holds none.</summary>
    /// <exception cref="AsdtException">The checkpoint holds averages, but not with these decays or not of every trainable parameter.</exception>
    public bool TryLoad(string checkpointFolder, nn.Module network)
    {
        Clear();
        var saved = Checkpoint.ReadExtraTensors(checkpointFolder);
        var mine = saved.Where(kv => kv.Key.StartsWith(Prefix, StringComparison.Ordinal)).ToDictionary();
        foreach (var (key, t) in saved) if (!mine.ContainsKey(key)) t.Dispose();
        try
        {
            if (mine.Count == 0) return false;
            parameters = Trainable(network);
            foreach (double d in decays)
            {
                var average = new Dictionary<string, Tensor>();
                averages[d] = average;
                foreach (var name in parameters.Keys)
                {
                    if (!mine.Remove(Key(d, name), out var t))
                        throw new AsdtException(checkpointFolder, $"the checkpoint has no average of {name} with decay {Format(d)} (it has decays {string.Join(", ", SavedDecays(checkpointFolder).Select(Format))})");
                    average[name] = t;
                }
            }
            MakeSteps();
            return true;
        }
        catch
        {
            Clear();
            throw;
        }
        finally { foreach (var t in mine.Values) t.Dispose(); }
    }

    /// <summary>One update after an optimizer step: w̄ ← d·w̄ + (1 − d)·w for every decay d (nothing before <see cref="Start"/>).</summary>
    public void Update()
    {
        using var noGrad = no_grad();
        foreach (var (d, average) in averages)
            foreach (var (name, a) in average)
                a.lerp_(parameters[name], steps[d]);
    }

    /// <summary>The averages as named tensors for the checkpoint's extra tensors (empty before <see cref="Start"/>; the live tensors: save them before the next update).</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors() =>
        averages.SelectMany(a => a.Value.Select(p => (Key(a.Key, p.Key), p.Value))).ToDictionary(x => x.Item1, x => x.Item2);

    /// <summary>The decays whose averages a checkpoint holds (empty for one written without them).</summary>
    public static IReadOnlyList<double> SavedDecays(string checkpointFolder)
    {
        var names = Checkpoint.ReadExtraTensorNames(checkpointFolder);
        return names.Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(n => n[Prefix.Length..n.IndexOf(':', Prefix.Length)])
            .Distinct().Select(s => double.Parse(s, CultureInfo.InvariantCulture)).Order().ToList();
    }

    /// <summary>
    /// Replaces the network's weights by the checkpoint's average with decay <paramref name="decay"/> (for inference; the
    /// parameters that were not averaged keep the checkpoint's weights, which the ASDT iterations did not change).
    /// </summary>
    public static void Apply(string checkpointFolder, nn.Module network, double decay)
    {
        var saved = Checkpoint.ReadExtraTensors(checkpointFolder);
        try
        {
            string prefix = Prefix + Format(decay) + ":";
            var average = saved.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
            if (average.Count == 0)
            {
                var decays = SavedDecays(checkpointFolder);
                throw new AsdtException(checkpointFolder, decays.Count == 0
                    ? "the checkpoint holds no averaged weights (train with --average-decays)"
                    : $"the checkpoint holds no weights averaged with decay {Format(decay)} (it has {string.Join(", ", decays.Select(Format))})");
            }
            var named = network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            using var noGrad = no_grad();
            foreach (var (name, t) in average)
            {
                if (!named.TryGetValue(name, out var p) || !p.shape.SequenceEqual(t.shape))
                    throw new AsdtException(checkpointFolder, $"the average of {name} does not fit this network");
                p.copy_(t);
            }
        }
        finally { foreach (var t in saved.Values) t.Dispose(); }
    }

    /// <summary>A decay as written in tensor names, flags and folder names (shortest round-trip form, e.g. 0.995).</summary>
    public static string Format(double decay) => decay.ToString("R", CultureInfo.InvariantCulture);

    static string Key(double decay, string parameter) => Prefix + Format(decay) + ":" + parameter;

    static Dictionary<string, TorchSharp.Modules.Parameter> Trainable(nn.Module network) =>
        network.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter);

    void MakeSteps()
    {
        var like = parameters.Values.FirstOrDefault();
        foreach (double d in decays)
            steps[d] = tensor((float)(1 - d), dtype: like?.dtype ?? ScalarType.Float32, device: like?.device).DetachFromDisposeScope();
    }

    void Clear()
    {
        foreach (var a in averages.Values) foreach (var t in a.Values) t.Dispose();
        foreach (var t in steps.Values) t.Dispose();
        averages.Clear();
        steps.Clear();
    }

    public void Dispose() => Clear();
}
