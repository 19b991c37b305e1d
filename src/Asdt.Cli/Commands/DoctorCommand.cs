using System.CommandLine;
using System.Globalization;
using System.Runtime.Intrinsics;
using Asdt.Models;
using Asdt.Models.Onnx;
using Asdt.Reports;
using Asdt.Runs;
using TorchSharp;

namespace Asdt.Cli.Commands;

/// <summary>
/// <c>asdt doctor</c>: can this machine train and segment correctly? Loads libtorch, says which kernels oneDNN may
/// use and where the pretrained ResNet-18 is, and checks the convolutions our networks run (<see cref="ConvSelfCheck"/>)
/// against float64 over NaN-filled free memory, both libtorch's plain conv2d (for information: does this machine have
/// oneDNN's unzeroed-block fault?) and <see cref="BlockAlignedConv"/>, which our models use and which must be exact.
/// Exit 0 when every block-aligned convolution is within <see cref="ConvSelfCheck.Tolerance"/> of float64, 1 when not.
/// Set ONEDNN_MAX_CPU_ISA (e.g. AVX2) to check the kernels of a smaller CPU on this one.
/// </summary>
public static class DoctorCommand
{
    static readonly Option<int> Repeats = new("--repeats") { Description = "Repeats per convolution (each over freshly NaN-filled free memory)", DefaultValueFactory = _ => 3 };
    static readonly Option<int> Threads = new("--threads") { Description = "CPU threads for libtorch (0 = all cores)", DefaultValueFactory = _ => 0 };

    public static Command Create()
    {
        var command = new Command("doctor", "Check this machine: libtorch, oneDNN's kernels, the pretrained weights, and the convolutions our networks run against float64 (exit 1 if any is wrong).")
        {
            Repeats, Threads,
        };
        Repeats.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 1) r.AddError("--repeats must be at least 1"); });
        command.SetAction(parse => Run(parse.GetValue(Repeats), parse.GetValue(Threads)));
        return command;
    }

    static int Run(int repeats, int threads)
    {
        ComputeThreads.Apply(threads);
        NnpackSwitch.EnsureOff();
        Console.WriteLine($"machine: {MachineInfo.Current()}");
        Console.WriteLine($"libtorch: {torch.get_num_threads()} threads; host SIMD: AVX2 {Vector256.IsHardwareAccelerated}, AVX-512 {Vector512.IsHardwareAccelerated}; " +
            $"oneDNN cap: {(ConvSelfCheck.IsaCap is string cap ? $"ONEDNN_MAX_CPU_ISA={cap}" : "none (the host's best kernels)")}; " +
            $"NNPACK: {NnpackSwitch.Enabled() switch { false => "off (oneDNN takes its convolutions)", true => "on (could not be switched off here: libtorch may warn \"Could not initialize NNPACK\" on small convolutions, harmlessly)", null => "unknown (not Linux or macOS)" }}");
        string weights = ImageNetResNet18.DefaultModelPath;
        Console.WriteLine($"pretrained ResNet-18: {(File.Exists(weights) ? weights : $"not found at {weights} (set {ImageNetResNet18.ModelEnvVar} or pass --weights)")}");

        Console.WriteLine($"convolutions against float64, free memory NaN-filled, {repeats} repeats each (non-finite repeats; largest relative error of y, dL/dx, dL/dw):");
        Console.WriteLine("| geometry | libtorch conv2d | BlockAlignedConv |");
        Console.WriteLine("|---|---|---|");
        int wrong = 0, plainWrong = 0;
        foreach (var g in ConvSelfCheck.Networks.Concat(ConvSelfCheck.InputScan))
        {
            var plain = ConvSelfCheck.Measure(g, poison: true, blockAligned: false, repeats);
            var ours = ConvSelfCheck.Measure(g, poison: true, blockAligned: true, repeats);
            if (!plain.Within(ConvSelfCheck.Tolerance)) plainWrong++;
            if (!ours.Within(ConvSelfCheck.Tolerance)) wrong++;
            Console.WriteLine($"| {g.Name} | {Cell(plain)} | {Cell(ours)} |");
        }
        int cells = ConvSelfCheck.Networks.Length + ConvSelfCheck.InputScan.Length;
        Console.WriteLine(plainWrong == 0
            ? "libtorch's own conv2d was exact here: this machine does not show oneDNN's unzeroed-block fault."
            : $"libtorch's own conv2d was wrong in {plainWrong} of {cells} geometries here (oneDNN's unzeroed blocks, docs/robustness.md); asdt's models use BlockAlignedConv.");
        if (wrong > 0)
        {
            Console.Error.WriteLine($"asdt: error: BlockAlignedConv was wrong in {wrong} of {cells} geometries on this machine: training and masks here cannot be trusted (please report this output)");
            return 1;
        }
        Console.WriteLine($"ok: BlockAlignedConv within {ConvSelfCheck.Tolerance.ToString("0e0", CultureInfo.InvariantCulture)} of float64 in all {cells} geometries");
        return 0;
    }

    static string Cell(ConvSelfCheck.Result r)
    {
        string verdict = r.Within(ConvSelfCheck.Tolerance) ? "ok" : "WRONG";
        if (r.NonFinite == r.Repeats) return $"{verdict}: NaN {r.NonFinite}/{r.Repeats}";
        string E(double e) => e.ToString("0.0e0", CultureInfo.InvariantCulture);
        return $"{verdict}: NaN {r.NonFinite}/{r.Repeats}; {E(r.ErrorY)}, {E(r.ErrorDx)}, {E(r.ErrorDw)}";
    }
}
