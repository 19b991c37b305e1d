using Asdt.Training;
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

    public static void Save(string folder, nn.Module network, KeptScalarSgd optimizer, long iteration, string configJson)
    {
        using var scope = NewDisposeScope();
        var bytes = tensor(optimizer.SaveState(), dtype: ScalarType.Byte);
        Checkpoint.Save(folder, network, configJson,
            new Dictionary<string, string> { [StateFile] = JsonSerializer.Serialize(new TrainingState(iteration)) },
            new Dictionary<string, Tensor> { [OptimizerTensor] = bytes });
    }

    /// <summary>Restores weights and optimizer state; returns the number of finished iterations.</summary>
    public static long Load(string folder, nn.Module network, KeptScalarSgd optimizer)
    {
        var info = Checkpoint.Load(folder, network, Checkpoint.ReadConfig(folder));
        var tensors = Checkpoint.ReadExtraTensors(folder);
        try
        {
            if (tensors.TryGetValue(OptimizerTensor, out var bytes)) optimizer.LoadState(bytes.data<byte>().ToArray());
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or EndOfStreamException)
        {
            throw new AsdtException(folder, $"the optimizer state does not fit this run ({e.Message})");
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
        return Iteration(info);
    }

    public static long Iteration(CheckpointInfo info) =>
        (JsonSerializer.Deserialize<TrainingState>(info.Extra[StateFile]) ?? throw new AsdtException(Path.Combine(info.Folder, StateFile), "empty training state")).Iteration;

    /// <summary>Loads only the weights; returns the number of iterations they were trained for.</summary>
    public static long LoadWeights(string folder, nn.Module network) => Iteration(Checkpoint.Load(folder, network, Checkpoint.ReadConfig(folder)));
}
