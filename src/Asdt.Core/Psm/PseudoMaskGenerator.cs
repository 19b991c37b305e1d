using System.Threading.Channels;
using Asdt.Crf;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.Models;
using Asdt.Runs;
using Asdt.Training;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace Asdt.Psm;

/// <summary>Which stage-1 output becomes the mask (Table 4's columns).</summary>
public enum PsmSource
{
    /// <summary>P̄ = element-wise max(P^st, P^s) (paper eq. 1, ASDT's PSMs).</summary>
    Max,
    /// <summary>P^st alone.</summary>
    SegTeacher,
    /// <summary>P^s alone.</summary>
    Student,
}

public sealed record PsmSettings
{
    public PsmSource Source { get; init; } = PsmSource.Max;
    /// <summary>Keep only background and the image's classes (legitimate on training images, §7 step 3). Off for RRM's val protocol (A17).</summary>
    public bool RestrictToImageLabels { get; init; } = true;
    /// <summary>Dense CRF refinement (RRM inference parameters); null = plain argmax.</summary>
    public CrfParameters? Crf { get; init; } = CrfParameters.RrmInference;
    /// <summary>Scales and flip averaged before P̄ (§7 step 1); the paper: single scale.</summary>
    public TestTimeAugmentation Augmentation { get; init; } = TestTimeAugmentation.None;
    public int Threads { get; init; }
}

/// <summary>
/// Pseudo segmentation masks (paper §3.4, ALGORITHM.md §7): for every image of a split, a single-scale
/// eval-mode forward of the full image, P^st and P^s upsampled bilinearly to the image size and
/// softmaxed, P̄ = max(P^st, P^s), restricted to {0} ∪ C⁺, refined by the dense CRF, argmax, written as
/// a VOC palette PNG (atomically). Images whose PNG exists are skipped, so a killed run resumes.
/// The network runs on one thread of work while the CRFs of earlier images run on the other cores.
/// </summary>
public static class PseudoMaskGenerator
{
    sealed record Pending(string Id, RgbImage Image, float[] Probabilities, int Classes, int[]? Present);

    /// <returns>Number of images written (skipped ones not counted).</returns>
    public static int Run(AsdtNetwork network, ImageNormalization normalization, SegmentationDataset dataset, string split,
        string outputFolder, PsmSettings settings, Shard shard, Action<int, int>? progress = null, CancellationToken cancel = default)
    {
        IO.AtomicFile.CreateFolder(outputFolder);
        IO.AtomicFile.DeleteStaleTemporaries(outputFolder); // left by a killed run; never another live shard's
        var ids = shard.Select(dataset.Ids(split));
        var todo = ids.Where(id => !File.Exists(Path.Combine(outputFolder, id + ".png"))).ToArray();
        int threads = ComputeThreads.Apply(settings.Threads);
        int done = ids.Count - todo.Length, written = 0;
        progress?.Invoke(done, ids.Count);

        var queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(2, threads)) { SingleWriter = true });
        var consumers = Enumerable.Range(0, threads).Select(_ => Task.Run(async () =>
        {
            await foreach (var item in queue.Reader.ReadAllAsync(cancel))
            {
                var mask = Label(item.Image, item.Probabilities, item.Classes, item.Present, settings.Crf);
                PalettePng.Write(Path.Combine(outputFolder, item.Id + ".png"), mask);
                Interlocked.Increment(ref written);
                progress?.Invoke(Interlocked.Increment(ref done), ids.Count);
            }
        }, cancel)).ToArray();

        try
        {
            network.eval();
            foreach (var id in todo)
            {
                cancel.ThrowIfCancellationRequested();
                var image = dataset.LoadImage(id);
                var probabilities = Probabilities(network, normalization, image, settings.Source, settings.Augmentation);
                int[]? present = settings.RestrictToImageLabels
                    ? dataset.ImageLabels(id).Select((on, c) => (on, c)).Where(x => x.on).Select(x => x.c).ToArray()
                    : null;
                if (!queue.Writer.TryWrite(new Pending(id, image, probabilities, network.Classes, present)))
                    queue.Writer.WriteAsync(new Pending(id, image, probabilities, network.Classes, present), cancel).AsTask().GetAwaiter().GetResult();
                if (consumers.FirstOrDefault(c => c.IsFaulted) is Task failed) failed.GetAwaiter().GetResult();
            }
        }
        finally
        {
            queue.Writer.TryComplete();
            Task.WaitAll(consumers.Where(c => !c.IsCanceled).ToArray());
        }
        return written;
    }

    /// <summary>Class-major [classes][H·W] probabilities of one image from the chosen head(s), at the image's size.</summary>
    public static float[] Probabilities(AsdtNetwork network, ImageNormalization normalization, RgbImage image, PsmSource source,
        TestTimeAugmentation? augmentation = null) =>
        HeadProbabilities.Compute(network, normalization, image, [source], augmentation ?? TestTimeAugmentation.None);

    /// <summary>Restriction, CRF and argmax of one image's probabilities.</summary>
    public static LabelMask Label(RgbImage image, float[] probabilities, int classes, IReadOnlyList<int>? present, CrfParameters? crf)
    {
        int n = image.Width * image.Height;
        byte[] labels;
        if (crf != null)
            labels = SegTeacherLabel.Compute(image.Pixels, image.Width, image.Height, probabilities, classes, present, crf);
        else
        {
            var allowed = new bool[classes];
            allowed[0] = true;
            if (present == null) Array.Fill(allowed, true);
            else foreach (int c in present) allowed[c + 1] = true;
            labels = new byte[n];
            for (int i = 0; i < n; i++)
            {
                int best = 0; float bestValue = float.NegativeInfinity;
                for (int k = 0; k < classes; k++)
                    if (allowed[k] && probabilities[k * n + i] > bestValue) { bestValue = probabilities[k * n + i]; best = k; }
                labels[i] = (byte)best;
            }
        }
        return new LabelMask(image.Width, image.Height, labels);
    }

    /// <summary>(1, 3, H, W) network input of a whole image.</summary>
    public static Tensor ImageTensor(RgbImage image, ImageNormalization normalization)
    {
        int n = image.Width * image.Height;
        var data = new float[3 * n];
        for (int c = 0; c < 3; c++)
        {
            int source = normalization.SourceChannel(c);
            for (int i = 0; i < n; i++) data[c * n + i] = normalization.Normalize(image.Pixels[i * 3 + source], c);
        }
        return tensor(data).reshape(1, 3, image.Height, image.Width);
    }
}
