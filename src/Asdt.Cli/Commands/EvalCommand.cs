using System.CommandLine;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.IO;
using Asdt.Runs;

namespace Asdt.Cli.Commands;

/// <summary>`asdt eval`: mIoU of a folder of masks against a split's ground truth, or the exact merge of shard scores.</summary>
public static class EvalCommand
{
    static readonly Option<string?> Pred = new("--pred") { Description = "Folder of predicted <id>.png palette masks" };
    static readonly Option<string> Dataset = new("--dataset") { Description = "Built-in dataset name or descriptor JSON", DefaultValueFactory = _ => "demo" };
    static readonly Option<string?> Root = new("--root") { Description = "Dataset root folder" };
    static readonly Option<string?> Split = new("--split") { Description = "Split [default: the dataset's training split]" };
    static readonly Option<string?> Out = new("--out") { Description = "Write <out>.json and <out>.md [default: <pred>/score]" };
    static readonly Option<string?> ShardOption = new("--shard") { Description = "i/n: score only images k with k mod n = i; merge the shards' JSON with --merge" };
    static readonly Option<string[]> Merge = new("--merge") { Description = "Score JSON files of disjoint shards to add up exactly (instead of --pred)", AllowMultipleArgumentsPerToken = true };

    public static Command Create()
    {
        var command = new Command("eval", "Score predicted masks: one confusion matrix over the split (255 ignored), per-class IoU, mIoU, pixel accuracy → JSON + Markdown.")
        {
            Pred, Dataset, Root, Split, Out, ShardOption, Merge,
        };
        command.SetAction(parse =>
        {
            var merge = parse.GetValue(Merge) ?? [];
            SegmentationScore score;
            string outBase;
            if (merge.Length > 0)
            {
                score = MergeScores(merge);
                outBase = parse.GetValue(Out) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(merge[0]))!, "score-merged");
            }
            else
            {
                string pred = parse.GetValue(Pred) ?? throw new AsdtException("give --pred <folder> (or --merge shard scores)");
                var ds = SegmentationDataset.Open(parse.GetValue(Dataset)!, parse.GetValue(Root));
                string split = parse.GetValue(Split) ?? ds.Descriptor.TrainSplit;
                var shard = Shard.Parse(parse.GetValue(ShardOption));
                score = Evaluate(ds, split, pred, shard);
                outBase = parse.GetValue(Out) ?? Path.Combine(pred, shard.Count == 1 ? "score" : $"score-shard{shard.Index}of{shard.Count}");
            }
            Write(score, outBase);
            Console.Write(score.ToMarkdown());
            Console.WriteLine($"wrote {outBase}.json and {outBase}.md");
            return 0;
        });
        return command;
    }

    public static SegmentationScore Evaluate(SegmentationDataset ds, string split, string pred, Shard shard)
    {
        var (matrix, images) = SegmentationEvaluator.EvaluateFolder(ds, split, pred, shard);
        return SegmentationScore.From(matrix, ds.ClassNames, $"masks in {pred}", ds.Name, split, images, shard.Count == 1 ? null : shard.ToString());
    }

    public static void Write(SegmentationScore score, string outBase)
    {
        AtomicFile.WriteAllText(outBase + ".json", AsdtJson.Serialize(score));
        AtomicFile.WriteAllText(outBase + ".md", score.ToMarkdown());
    }

    public static SegmentationScore MergeScores(IEnumerable<string> files)
    {
        var scores = files.Select(f => (f, s: AsdtJson.Read<SegmentationScore>(f))).ToArray();
        var first = scores[0].s;
        var matrix = ConfusionMatrix.FromRows(first.Confusion);
        var shards = new HashSet<string>();
        foreach (var (file, s) in scores)
        {
            if (s.Dataset != first.Dataset || s.Split != first.Split || !s.ClassNames.SequenceEqual(first.ClassNames))
                throw new AsdtException(file, $"is a score of {s.Dataset}/{s.Split}, not {first.Dataset}/{first.Split} with the same classes");
            if (s.Shard != null && !shards.Add(s.Shard)) throw new AsdtException(file, $"shard {s.Shard} given twice");
            if (!ReferenceEquals(s, first)) matrix.Add(ConfusionMatrix.FromRows(s.Confusion));
        }
        return SegmentationScore.From(matrix, first.ClassNames, first.What, first.Dataset, first.Split, scores.Sum(x => x.s.Images));
    }
}
