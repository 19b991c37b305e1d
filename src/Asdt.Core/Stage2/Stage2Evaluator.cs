using Asdt.Data;
using Asdt.Evaluation;
using Asdt.Runs;

namespace Asdt.Stage2;

/// <summary>The four test-time variants of stage 2.</summary>
public enum Stage2Variant { SingleScale, SingleScaleCrf, MultiScale, MultiScaleCrf }

/// <summary>
/// Scores a trained stage-2 network on a split: one confusion matrix per variant (single scale / MSC, each without
/// and with the test-time CRF), all from one forward pass per image. CRFs run on the other cores while the network
/// runs. Shards (<see cref="Shard"/>) add up exactly.
/// </summary>
public static class Stage2Evaluator
{
    public static string FileSuffix(Stage2Variant v) => v switch
    {
        Stage2Variant.SingleScale => "ss",
        Stage2Variant.SingleScaleCrf => "ss-crf",
        Stage2Variant.MultiScale => "msc",
        Stage2Variant.MultiScaleCrf => "msc-crf",
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    public static string Describe(Stage2Variant v) => v switch
    {
        Stage2Variant.SingleScale => "single scale, no CRF",
        Stage2Variant.SingleScaleCrf => "single scale + CRF",
        Stage2Variant.MultiScale => "MSC (max fusion), no CRF",
        Stage2Variant.MultiScaleCrf => "MSC (max fusion) + CRF",
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    /// <param name="variants">which variants to score (MSC ones need a network with more than one scale).</param>
    public static Dictionary<Stage2Variant, ConfusionMatrix> Evaluate(Stage2Run run, SegmentationDataset dataset, string split, Shard shard,
        IReadOnlyCollection<Stage2Variant> variants, Action<int, int>? progress = null, int threads = 0)
    {
        run.CheckClasses(dataset);
        var ids = shard.Select(dataset.Ids(split));
        bool msc = variants.Contains(Stage2Variant.MultiScale) || variants.Contains(Stage2Variant.MultiScaleCrf);
        if (msc && run.Network.Scales.Count == 1)
            throw new AsdtException(run.Folder, "the model was built with a single scale (MscScales [1]); evaluate with --single-scale");
        int classes = dataset.ClassNames.Count;
        var matrices = variants.ToDictionary(v => v, _ => new ConfusionMatrix(classes));
        int done = 0;
        var pending = new List<Task>();
        using var limiter = new SemaphoreSlim(ComputeThreads.Apply(threads));
        foreach (var id in ids)
        {
            var (image, gt) = dataset.LoadPair(id);
            var p = Stage2Predictor.Predict(run.Network, run.Normalization, image, msc);
            limiter.Wait();
            pending.Add(Task.Run(() =>
            {
                try
                {
                    foreach (var v in variants)
                    {
                        var prob = v is Stage2Variant.SingleScale or Stage2Variant.SingleScaleCrf ? p.SingleScale : p.MultiScale!;
                        var crf = v is Stage2Variant.SingleScaleCrf or Stage2Variant.MultiScaleCrf ? run.Config.TestCrf : null;
                        var mask = Stage2Predictor.Label(image, prob, classes, crf);
                        try { matrices[v].Add(gt.Labels, mask.Labels); }
                        catch (ArgumentException e) { throw new AsdtException(dataset.MaskPath(id), e.Message); }
                    }
                    progress?.Invoke(Interlocked.Increment(ref done), ids.Count);
                }
                finally { limiter.Release(); }
            }));
            pending.RemoveAll(t => t.IsCompletedSuccessfully);
            if (pending.FirstOrDefault(t => t.IsFaulted) is Task failed) failed.GetAwaiter().GetResult();
        }
        Task.WaitAll(pending.ToArray());
        return matrices;
    }
}
