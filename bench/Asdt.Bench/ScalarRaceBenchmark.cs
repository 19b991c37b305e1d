using Asdt.Models;
using static TorchSharp.torch;

namespace Asdt.Bench;

/// <summary>
/// Stress harness for the TorchSharp Scalar finalizer race (docs/robustness.md): one thread runs
/// tensor–number operations and checks every result while another thread forces garbage collections and
/// runs finalizers as fast as it can. Each variant runs for the same time in its own process, side by side:
/// <c>implicit</c> (TorchSharp's <c>x.mul(0.5)</c>, a temporary Scalar), <c>kept</c> (<see cref="KeptScalar"/>)
/// <c>add</c> (<c>x + y</c>, whose alpha 1 is a temporary Scalar inside TorchSharp), <c>plus</c> (<see cref="KeptScalar.Plus(Tensor, Tensor)"/>),
/// <c>sgd</c> (TorchSharp's SGD step with momentum and weight decay) and <c>kept-sgd</c> (<see cref="Training.KeptScalarSgd"/>).
/// </summary>
static class ScalarRaceBenchmark
{
    public const string ChildCommand = "scalar-race-child";

    public static int Run(string[] args)
    {
        double seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20;
        int repeats = args.Length > 1 ? int.Parse(args[1]) : 3;
        Console.WriteLine($"# Scalar race stress, {seconds} s per variant × {repeats} processes each");
        Console.WriteLine(BenchMachine.Describe());
        Console.WriteLine("| variant | process | operations | wrong results | outcome |");
        Console.WriteLine("|---|---:|---:|---:|---|");
        for (int r = 0; r < repeats; r++)
            foreach (var variant in new[] { "implicit", "kept", "add", "plus", "sgd", "kept-sgd" })
            {
                var (code, stdout, stderr) = BenchMachine.RunChild(ChildCommand, variant, seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var line = stdout.Trim();
                if (line.Length == 0) line = $"| {variant} | | | | crashed, exit {code}: {FirstLine(stderr)} |";
                Console.WriteLine(line.Replace("| " + variant + " |", $"| {variant} | {r + 1} |"));
            }
        return 0;
    }

    static string FirstLine(string s) => s.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0)?.Replace("|", "/") ?? "";

    public static int RunChild(string[] args)
    {
        string variant = args[0];
        var stop = DateTime.UtcNow.AddSeconds(double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
        var collector = new Thread(() =>
        {
            while (DateTime.UtcNow < stop) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        }) { IsBackground = true };
        collector.Start();
        using var x = ones(16);
        using var y = full(16, 2f);
        var parameter = new TorchSharp.Modules.Parameter(zeros(16));
        var groups = new List<TorchSharp.Modules.SGD.ParamGroup> { new([parameter], new TorchSharp.Modules.SGD.Options { LearningRate = 0.5, momentum = 0.9, weight_decay = 1e-4 }) };
        optim.Optimizer sgd = variant == "kept-sgd" ? new Training.KeptScalarSgd(groups, 0.5, 0.9, 1e-4) : optim.SGD(groups, 0.5, 0.9, weight_decay: 1e-4);
        long operations = 0, wrong = 0;
        string outcome = "ok";
        try
        {
            while (DateTime.UtcNow < stop)
            {
                using var scope = NewDisposeScope();
                for (int k = 0; k < 1000; k++, operations++)
                {
                    if (variant.EndsWith("sgd"))
                    {
                        parameter.grad = y;   // a constant gradient: the step must stay finite and move the parameter down
                        sgd.step();
                        if (!(parameter[3].item<float>() < 0)) wrong++;
                        continue;
                    }
                    var r = variant switch
                    {
                        "implicit" => x.mul(0.5),
                        "kept" => x.Times(0.5),
                        "plus" => x.Plus(y),
                        _ => x + y,
                    };
                    float expected = variant is "add" or "plus" ? 3f : 0.5f;
                    if (r[3].item<float>() != expected) wrong++;
                }
            }
        }
        catch (Exception e) { outcome = $"died: {e.Message.Split('\n')[0].Replace("|", "/")}"; }
        collector.Join();
        Console.WriteLine($"| {variant} | {operations:N0} | {wrong} | {outcome} |");
        return 0;
    }
}
