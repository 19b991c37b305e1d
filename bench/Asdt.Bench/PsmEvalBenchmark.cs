using System.Diagnostics;
using System.Globalization;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.Psm;
using Asdt.Training;

namespace Asdt.Bench;

/// <summary>
/// PSM generation and evaluation throughput on MSRC-21 at full resolution (issue 9). PSMs use the cpu
/// preset's network (ImageNet ResNet-18 backbone, freshly initialised heads: the time does not depend on
/// what the heads learned) with the class restriction and the dense CRF; run it as its own process so
/// the reported peak RSS is that of PSM generation alone.
/// </summary>
static class PsmEvalBenchmark
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Psm(string[] args)
    {
        Console.WriteLine($"# PSM generation (cpu preset network, MSRC-21 objects train, full resolution)\n\n{BenchMachine.Describe()}\n");
        var config = Stage1Presets.Cpu;
        var dataset = SegmentationDataset.Open(config.Data.Dataset);
        var (network, normalization) = Stage1Model.CreateNetwork(config, dataset.NumForegroundClasses);
        string output = Directory.CreateTempSubdirectory("asdt-bench-psm-").FullName;
        try
        {
            var clock = Stopwatch.StartNew();
            int written = PseudoMaskGenerator.Run(network, normalization, dataset, "train", output,
                new PsmSettings { Crf = config.SegTeacherCrf }, Shard.All);
            double seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(Inv, $"| images | seconds | images/s | peak RSS MiB |\n|---:|---:|---:|---:|\n| {written} | {seconds:F1} | **{written / seconds:F2}** | {BenchMachine.PeakMiB():F0} |"));
        }
        finally { Directory.Delete(output, true); }
        return 0;
    }

    public static int Eval(string[] args)
    {
        Console.WriteLine($"# Evaluation throughput (confusion matrix over a split, PNG decoding included)\n\n{BenchMachine.Describe()}\n");
        Console.WriteLine("| dataset | images | seconds | images/s | megapixels/s |\n|---|---:|---:|---:|---:|");
        foreach (var (name, split) in new[] { ("msrc21-objects", "train"), ("voc2012-masks", "val") })
        {
            var ds = SegmentationDataset.Open(name);
            // Predictions = the ground truth's own masks with 255 → 0, written once as palette PNGs.
            string folder = Directory.CreateTempSubdirectory("asdt-bench-eval-").FullName;
            try
            {
                long pixels = 0;
                foreach (var id in ds.Ids(split))
                {
                    var m = ds.LoadMask(id);
                    pixels += m.Labels.Length;
                    PalettePng.Write(Path.Combine(folder, id + ".png"), new LabelMask(m.Width, m.Height, m.Labels.Select(v => v == 255 ? (byte)0 : v).ToArray()));
                }
                var clock = Stopwatch.StartNew();
                var (matrix, n) = SegmentationEvaluator.EvaluateFolder(ds, split, folder, Shard.All);
                double s = clock.Elapsed.TotalSeconds;
                Console.WriteLine(string.Create(Inv, $"| {name} / {split} | {n} | {s:F2} | **{n / s:F0}** | {pixels / s / 1e6:F0} |"));
                if (Math.Abs(matrix.MeanIoU() - 1) > 1e-12) throw new InvalidOperationException("self-evaluation must give mIoU 1");
            }
            finally { Directory.Delete(folder, true); }
        }
        return 0;
    }
}
