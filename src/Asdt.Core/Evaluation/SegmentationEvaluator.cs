using Asdt.Data;
using Asdt.Runs;

namespace Asdt.Evaluation;

/// <summary>Scores a folder of predicted palette PNGs (<c>&lt;id&gt;.png</c>) against a dataset split's ground truth.</summary>
public static class SegmentationEvaluator
{
    public static (ConfusionMatrix Matrix, int Images) EvaluateFolder(SegmentationDataset dataset, string split, string predictions,
        Shard shard, Action<int>? progress = null, int threads = 0)
    {
        if (!Directory.Exists(predictions)) throw new AsdtException(predictions, "prediction folder not found");
        var ids = shard.Select(dataset.Ids(split));
        var matrix = new ConfusionMatrix(dataset.ClassNames.Count);
        int done = 0;
        Parallel.ForEach(ids, new ParallelOptions { MaxDegreeOfParallelism = ComputeThreads.Workers(threads) }, id =>
        {
            string path = Path.Combine(predictions, id + ".png");
            if (!File.Exists(path)) throw new AsdtException(path, $"no prediction for image '{id}' of split '{split}'");
            var gt = dataset.LoadMask(id);
            var pred = PalettePng.Read(path);
            if (pred.Width != gt.Width || pred.Height != gt.Height)
                throw new AsdtException(path, $"prediction is {pred.Width}x{pred.Height} but the ground truth is {gt.Width}x{gt.Height}");
            try { matrix.Add(gt.Labels, pred.Labels); }
            catch (ArgumentException e) { throw new AsdtException(path, e.Message); }
            progress?.Invoke(Interlocked.Increment(ref done));
        });
        return (matrix, ids.Count);
    }
}
