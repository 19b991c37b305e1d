using System.Text.Json;
using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>
/// A resumable stage-1 checkpoint: the network weights and config (<see cref="Checkpoint"/>, written
/// atomically as one folder), the optimizer state (SGD momentum buffers, serialised by TorchSharp
/// into an extra uint8 tensor) and the number of finished iterations.
/// </summary>
public static class Stage1Checkpoint
{
    public const string StateFile = "training-state.json";
    const string OptimizerTensor = "optimizer";

    sealed record TrainingState(long Iteration);

    public static void Save(string folder, AsdtNetwork network, TorchSharp.Modules.SGD optimizer, long iteration, string configJson)
    {
        using var scope = NewDisposeScope();
        var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        var optimizerBytes = tensor(buffer.ToArray(), dtype: ScalarType.Byte);
        Checkpoint.Save(folder, network, configJson,
            new Dictionary<string, string> { [StateFile] = JsonSerializer.Serialize(new TrainingState(iteration)) },
            new Dictionary<string, Tensor> { [OptimizerTensor] = optimizerBytes });
    }

    /// <summary>Restores weights and optimizer state; returns the number of finished iterations.</summary>
    public static long Load(string folder, AsdtNetwork network, TorchSharp.Modules.SGD optimizer)
    {
        var info = Checkpoint.Load(folder, network, Checkpoint.ReadConfig(folder));
        var state = JsonSerializer.Deserialize<TrainingState>(info.Extra[StateFile])
                    ?? throw new AsdtException(Path.Combine(folder, StateFile), "empty training state");
        var tensors = Checkpoint.ReadExtraTensors(folder);
        if (tensors.TryGetValue(OptimizerTensor, out var bytes))
        {
            using var reader = new BinaryReader(new MemoryStream(bytes.data<byte>().ToArray()));
            optimizer.load_state_dict(reader);
        }
        foreach (var t in tensors.Values) t.Dispose();
        return state.Iteration;
    }

    /// <summary>Loads only the network weights (for PSMs and evaluation).</summary>
    public static void LoadWeights(string folder, AsdtNetwork network) =>
        Checkpoint.Load(folder, network, Checkpoint.ReadConfig(folder));
}
