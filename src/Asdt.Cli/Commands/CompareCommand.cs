using System.CommandLine;
using Asdt.Evaluation;
using Asdt.IO;
using Asdt.Reports;
using Asdt.Runs;

namespace Asdt.Cli.Commands;

/// <summary>`asdt compare`: per-class IoU of several scores side by side, with each one's difference to the first.</summary>
public static class CompareCommand
{
    static readonly Argument<string[]> Scores = new("scores")
    {
        Description = "Score JSON files (asdt eval, asdt eval-run), PSM folders holding score.json, or eval-run folders holding heads.json; the first is the baseline",
        Arity = ArgumentArity.OneOrMore,
    };
    static readonly Option<string?> Labels = new("--labels") { Description = "Comma-separated column names [default: the part of each path that differs]" };
    static readonly Option<string> Variant = new("--variant") { Description = "Which score of an eval-run folder: pbar-crf (P̄ + CRF, the PSMs), ps-crf, pst-crf, pbar, ps, pst, cam-best", DefaultValueFactory = _ => "pbar-crf" };
    static readonly Option<string?> Out = new("--out") { Description = "Also write <out>.md and <out>.json" };

    public static Command Create()
    {
        var command = new Command("compare", "Per-class IoU of several scores side by side, each with its difference to the first (Markdown; JSON with --out).")
        {
            Scores, Labels, Variant, Out,
        };
        command.SetAction(parse =>
        {
            var paths = parse.GetValue(Scores)!;
            string variant = parse.GetValue(Variant)!;
            var files = paths.Select(p => ScoreFile(p, variant)).ToArray();
            var labels = parse.GetValue(Labels) is string given
                ? given.Split(',', StringSplitOptions.TrimEntries)
                : DistinctParts(files);
            if (labels.Length != files.Length)
                throw new AsdtException($"--labels gives {labels.Length} names for {files.Length} scores");
            var comparison = ScoreComparison.Of(files.Select((f, i) => (labels[i], f, Read(f))).ToArray());
            string md = comparison.ToMarkdown();
            Console.Write(md);
            if (parse.GetValue(Out) is string outBase)
            {
                AtomicFile.WriteAllText(outBase + ".md", md);
                AtomicFile.WriteAllText(outBase + ".json", AsdtJson.Serialize(comparison));
                Console.WriteLine($"wrote {outBase}.md and {outBase}.json");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The score JSON a path stands for: the file itself, a PSM folder's score.json, or one variant of an
    /// eval-run folder (or of its heads.json).</summary>
    public static string ScoreFile(string path, string variant)
    {
        if (File.Exists(path) && Path.GetFileName(path) != HeadEvaluation.FileName) return path;
        string folder = File.Exists(path) ? (Path.GetDirectoryName(path) is { Length: > 0 } parent ? parent : ".") : path;
        if (!Directory.Exists(folder)) throw new AsdtException(path, "no such file or folder");
        if (File.Exists(Path.Combine(folder, HeadEvaluation.FileName)))
        {
            string file = Path.Combine(folder, variant + ".json");
            if (File.Exists(file)) return file;
            var have = Directory.GetFiles(folder, "*.json").Select(Path.GetFileNameWithoutExtension).Where(n => n != "heads").Order();
            throw new AsdtException(folder, $"has no score '{variant}' (it has: {string.Join(", ", have)}); choose one with --variant");
        }
        string score = Path.Combine(folder, "score.json");
        if (File.Exists(score)) return score;
        throw new AsdtException(path, "holds neither score.json (asdt eval) nor heads.json (asdt eval-run)");
    }

    static SegmentationScore Read(string file)
    {
        var s = AsdtJson.Read<SegmentationScore>(file);
        if (s.ClassNames.Length == 0) throw new AsdtException(file, "is not a score JSON (no class names): give one written by asdt eval or asdt eval-run");
        return s;
    }

    /// <summary>Column names from the paths: what is left when the path segments all of them share at the start and
    /// at the end are dropped (runs/a/eval-val/pbar-crf.json, runs/b/eval-val/pbar-crf.json → a, b).</summary>
    public static string[] DistinctParts(IReadOnlyList<string> paths)
    {
        var parts = paths.Select(p => p.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        int shortest = parts.Min(p => p.Length);
        int lead = 0, trail = 0;
        while (lead < shortest - 1 && parts.All(p => p[lead] == parts[0][lead])) lead++;
        while (trail < shortest - lead - 1 && parts.All(p => p[^(trail + 1)] == parts[0][^(trail + 1)])) trail++;
        var labels = parts.Select(p => string.Join('/', p[lead..(p.Length - trail)])).ToArray();
        return labels.Distinct().Count() == labels.Length ? labels : paths.ToArray();
    }
}
