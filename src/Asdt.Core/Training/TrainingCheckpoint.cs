using System.Text.Json;
using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>
/// A resumable training checkpoint of either stage: the network weights and config (<see cref="Checkpoint"/>, written
/// atomically as one folder), the optimizer state (SGD momentum buffers, serialised by TorchSharp
/// into an extra uint8 tensor) and the number of finished iterations.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>The checkpoint's folder inside a run folder (both stages).</summary>
    public const string FolderName = "checkpoint";
    public const string StateFile = "training-state.json";
    const string OptimizerTensor = "optimizer";

    sealed record TrainingState(long Iteration);

    /// <param name="moreTensors">Other tensors to keep with the checkpoint, e.g. the weight averages (<see cref="WeightAverage.Tensors"/>).</param>
    public static void Save(string folder, nn.Module network, KeptScalarSgd optimizer, long iteration, string configJson,
        IReadOnlyDictionary<string, Tensor>? moreTensors = null)
    {
        using var scope = NewDisposeScope();
        var optimizerBytes = tensor(optimizer.SaveState(), dtype: ScalarType.Byte);
        var tensors = new Dictionary<string, Tensor>(moreTensors ?? new Dictionary<string, Tensor>()) { [OptimizerTensor] = optimizerBytes };
        Checkpoint.Save(folder, network, configJson,
            new Dictionary<string, string> { [StateFile] = JsonSerializer.Serialize(new TrainingState(iteration)) }, tensors);
    }

    /// <summary>Only the network weights and the iteration (no optimizer state): a kept checkpoint (<see cref="CheckpointSelection"/>).</summary>
    public static void SaveWeights(string folder, nn.Module network, long iteration, string configJson) =>
        Checkpoint.Save(folder, network, configJson,
            new Dictionary<string, string> { [StateFile] = JsonSerializer.Serialize(new TrainingState(iteration)) });

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

    /// <summary>Iterations finished according to a run folder's checkpoint (0 without one).</summary>
    public static long FinishedIterations(string runFolder)
    {
        string state = Path.Combine(runFolder, FolderName, StateFile);
        if (!File.Exists(state)) return 0;
        try { return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(state))?.Iteration ?? 0; }
        catch (JsonException e) { throw new AsdtException(state, $"unreadable training state ({e.Message})"); }
    }

    /// <summary>Loads only the network weights (for PSMs, evaluation and segmentation); returns the iterations they were trained for.</summary>
    public static long LoadWeights(string folder, nn.Module network) => Iteration(Checkpoint.Load(folder, network, Checkpoint.ReadConfig(folder)));

    static long Iteration(CheckpointInfo info) =>
        (JsonSerializer.Deserialize<TrainingState>(info.Extra[StateFile])
         ?? throw new AsdtException(Path.Combine(info.Folder, StateFile), "empty training state")).Iteration;
}
