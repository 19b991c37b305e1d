using System.CommandLine;
using Asdt.Stage2;

namespace Asdt.Cli.Commands;

/// <summary>`asdt export-onnx`: a trained stage-2 DeepLab-v2 as a standard ONNX file (our own exporter).</summary>
public static class ExportOnnxCommand
{
    static readonly Option<string> Model = new("--model") { Description = "Stage-2 run folder (from asdt seg-train)", Required = true };
    static readonly Option<string> Out = new("--out") { Description = "ONNX file to write (input 'image' [N,3,H,W] RGB 0..255, output 'logits' [N,C,H,W])", Required = true };
    static readonly Option<bool> SingleScale = new("--single-scale") { Description = "Export the scale-1 network only (no MSC max fusion; about half the compute)" };

    public static Command Create()
    {
        var command = new Command("export-onnx", "Write a stage-2 DeepLab-v2 model as ONNX (opset 17, any input size) for ONNX Runtime / ML.NET.") { Model, Out, SingleScale };
        command.SetAction(parse =>
        {
            using var run = Stage2Run.Open(parse.GetValue(Model)!);
            string output = parse.GetValue(Out)!;
            var network = parse.GetValue(SingleScale) ? new MultiScaleNetwork(run.Network.Base, [1.0]) : run.Network;
            OnnxExporter.Write(output, network, run.Normalization, run.ClassNames);
            Console.WriteLine($"export-onnx: {output} ({new FileInfo(output).Length / 1e6:0.0} MB, opset {OnnxExporter.Opset}, " +
                              $"{run.ClassNames.Count} classes, scales [{string.Join(", ", network.Scales)}])");
            return 0;
        });
        return command;
    }
}
