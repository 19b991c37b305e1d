using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Asdt.Stage2;

/// <summary>
/// A single-scale segmentation network: forward maps N×3×H×W normalised images to N×C×h×w logits at the
/// feature resolution. The parameter groups are the SGD groups of ALGORITHM.md §9 (backbone 1×, head weights
/// 10×, head biases 20× without weight decay); frozen parameters are in none of them.
/// </summary>
public interface ISegmentationNetwork
{
    int NumClasses { get; }
    int OutputStride { get; }
    IEnumerable<Parameter> BackboneParameters();
    IEnumerable<Parameter> HeadWeights();
    IEnumerable<Parameter> HeadBiases();
}
