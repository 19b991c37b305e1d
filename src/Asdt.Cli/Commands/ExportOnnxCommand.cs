using System.CommandLine;
using Asdt.Stage2;

namespace Asdt.Cli.Commands;

/// <summary>`asdt export-onnx`: a trained stage-2 DeepLab-v2 or PSPNet as a standard ONNX file (our own exporter).</summary>
public static class ExportOnnxCommand
{
    static readonly Option<string> Model = new("--model") { Description = "Stage-2 run folder (from asdt seg-train)", Required = true };
    static readonly Option<string> Out = new("--out") { Description = "ONNX file to write (input 'image' [N,3,H,W] RGB 0..255, output 'logits' [N,C,H,W])", Required = true };
    static readonly Option<bool> SingleScale = new("--single-scale") { Description = "Export the scale-1 network only (no MSC max fusion; about half the compute)" };
    static readonly Option<string?> InputSize = new("--input-size") { Description = "HxW of the graph's fixed input, e.g. 321x321 (required for PSPNet, whose pooling bins depend on the size; DeepLab-v2 takes any size)" };

    static (int, int)? ParseSize(string? text)
    {
        if (text is null) return null;
        var parts = text.Split('x', 'X');
        if (parts.Length == 2 && int.TryParse(parts[0], out int h) && int.TryParse(parts[1], out int w) && h > 0 && w > 0) return (h, w);
        throw new AsdtException($"--input-size '{text}': expected HxW with positive integers, e.g. 321x321");
    }

    public static Command Create()
    {
        var command = new Command("export-onnx", "Write a stage-2 model as ONNX (opset 17) for ONNX Runtime / ML.NET: DeepLab-v2 for any input size, PSPNet for a fixed --input-size.") { Model, Out, SingleScale, InputSize };
        command.SetAction(parse =>
        {
            var size = ParseSize(parse.GetValue(InputSize));
            using var run = Stage2Run.Open(parse.GetValue(Model)!);
            string output = parse.GetValue(Out)!;
            var network = parse.GetValue(SingleScale) ? new MultiScaleNetwork(run.Network.Base, [1.0]) : run.Network;
            OnnxExporter.Write(output, network, run.Normalization, run.ClassNames, size);
            Console.WriteLine($"export-onnx: {output} ({new FileInfo(output).Length / 1e6:0.0} MB, opset {OnnxExporter.Opset}, " +
                              $"{run.ClassNames.Count} classes, scales [{string.Join(", ", network.Scales)}])");
            return 0;
        });
        return command;
    }
}
