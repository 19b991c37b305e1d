using System.Text.Json;
using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Stage2;

/// <summary>
/// A resumable stage-2 checkpoint: weights + config (<see cref="Checkpoint"/>, one atomically written folder), the SGD
/// state (momentum buffers, as a uint8 tensor) and the number of finished iterations.
/// </summary>
public static class Stage2Checkpoint
{
    public const string StateFile = "training-state.json";
    const string OptimizerTensor = "optimizer";

    sealed record TrainingState(long Iteration);

    public static void Save(string folder, nn.Module network, TorchSharp.Modules.SGD optimizer, long iteration, string configJson)
    {
        using var scope = NewDisposeScope();
        var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        var bytes = tensor(buffer.ToArray(), dtype: ScalarType.Byte);
        Checkpoint.Save(folder, network, configJson,
            new Dictionary<string, string> { [StateFile] = JsonSerializer.Serialize(new TrainingState(iteration)) },
            new Dictionary<string, Tensor> { [OptimizerTensor] = bytes });
    }

    /// <summary>Restores weights and optimizer state; returns the number of finished iterations.</summary>
    public static long Load(string folder, nn.Module network, TorchSharp.Modules.SGD optimizer)
    {
        var info = Checkpoint.Load(folder, network, Checkpoint.ReadConfig(folder));
        var tensors = Checkpoint.ReadExtraTensors(folder);
        try
        {
            if (tensors.TryGetValue(OptimizerTensor, out var bytes))
            {
                using var reader = new BinaryReader(new MemoryStream(bytes.data<byte>().ToArray()));
                optimizer.load_state_dict(reader);
            }
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
        return Iteration(info);
    }

    public static long Iteration(CheckpointInfo info) =>
        (JsonSerializer.Deserialize<TrainingState>(info.Extra[StateFile]) ?? throw new AsdtException(Path.Combine(info.Folder, StateFile), "empty training state")).Iteration;

    /// <summary>Loads only the weights; returns the number of iterations they were trained for.</summary>
    public static long LoadWeights(string folder, nn.Module network) => Iteration(Checkpoint.Load(folder, network, Checkpoint.ReadConfig(folder)));
}
