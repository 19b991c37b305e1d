using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

public class CheckpointTests
{
    const string Config = """{"model":{"backbone":"resnet18","outputStride":8,"scales":[1,0.5]},"train":{"lr":0.0007,"iterations":100}}""";

    static ResNet Net() => ResNet.Create(18, new ResNetOptions { BaseWidth = 8, OutputStride = 8 });

    [Fact]
    public void RoundTripWithExtraStateAndTensors()
    {
        using var tmp = TestData.NewTempFolder();
        using var scope = NewDisposeScope();
        using var source = Net();
        using (no_grad()) foreach (var p in source.parameters()) p.copy_(randn_like(p));
        string folder = Path.Combine(tmp.Path, "run", "ckpt");
        var momentum = new Dictionary<string, Tensor> { ["sgd.momentum.conv1.weight"] = randn(8, 3, 7, 7) };
        Checkpoint.Save(folder, source, Config, new Dictionary<string, string> { ["state.json"] = """{"iteration":42,"seed":7}""" }, momentum);

        using var target = Net();
        // Same config written differently (order, 1 vs 1.0, whitespace) still matches.
        var info = Checkpoint.Load(folder, target, """{ "train":{"iterations":100,"lr":7e-4}, "model":{"scales":[1.0,0.5],"outputStride":8,"backbone":"resnet18"} }""");
        foreach (var (k, t) in source.state_dict()) Assert.True(t.equal(target.state_dict()[k]).all().item<bool>(), k);
        Assert.Equal("""{"iteration":42,"seed":7}""", info.Extra["state.json"]);
        Assert.Equal(new[] { "sgd.momentum.conv1.weight" }, info.ExtraTensorNames);
        var extra = Checkpoint.ReadExtraTensors(folder);
        Assert.True(extra["sgd.momentum.conv1.weight"].equal(momentum["sgd.momentum.conv1.weight"]).all().item<bool>());
        Assert.Equal(Config, Checkpoint.ReadConfig(folder));

        // Overwriting leaves exactly one folder and no temporary ones.
        Checkpoint.Save(folder, target, Config);
        Assert.Equal(new[] { "ckpt" }, Directory.GetDirectories(Path.Combine(tmp.Path, "run")).Select(Path.GetFileName));
        Assert.Empty(Checkpoint.Load(folder, target, Config).Extra);
        Assert.False(File.Exists(Path.Combine(folder, "state.json")));
    }

    [Fact]
    public void ConfigMismatchListsEveryDifferingField()
    {
        using var tmp = TestData.NewTempFolder();
        using var net = Net();
        string folder = tmp.File("ckpt");
        Checkpoint.Save(folder, net, Config);
        string other = """{"model":{"backbone":"resnet50","outputStride":8,"scales":[1]},"train":{"lr":0.0007,"iterations":100,"crop":321}}""";
        var ex = Assert.Throws<AsdtException>(() => Checkpoint.Load(folder, net, other));
        Assert.Contains("(3 fields: ", ex.Message);
        Assert.Contains("model.backbone: checkpoint \"resnet18\", expected \"resnet50\"", ex.Message);
        Assert.Contains("model.scales[1]: checkpoint 0.5, expected absent", ex.Message);
        Assert.Contains("train.crop: checkpoint absent, expected 321", ex.Message);
        Assert.Contains("model.scales[0]", Checkpoint.ConfigDifferences("""{"model":{"scales":[2]}}""", """{"model":{"scales":[1]}}""")[0]);
        // Ignored fields are not compared.
        Assert.Empty(Checkpoint.ConfigDifferences(Config, Config.Replace("100", "200"), ["train.iterations"]));
    }

    [Fact]
    public void MissingOrForeignFoldersAreUserErrors()
    {
        using var tmp = TestData.NewTempFolder();
        using var net = Net();
        Assert.Contains("not found", Assert.Throws<AsdtException>(() => Checkpoint.Load(tmp.File("none"), net, Config)).Message);
        Directory.CreateDirectory(tmp.File("empty"));
        Assert.Contains("checkpoint.json missing", Assert.Throws<AsdtException>(() => Checkpoint.Load(tmp.File("empty"), net, Config)).Message);
        // Weights of another architecture: the state-dict check reports it.
        using var other = ResNet.Create(34, new ResNetOptions { BaseWidth = 8 });
        Checkpoint.Save(tmp.File("r34"), other, Config);
        Assert.Contains("missing", Assert.Throws<AsdtException>(() => Checkpoint.Load(tmp.File("r34"), ResNet.Create(50, new ResNetOptions { BaseWidth = 8 }), Config)).Message);
    }
}
