using System.CommandLine;

namespace Asdt.Cli;

/// <summary>
/// The `asdt` command tree. Each pipeline step is one sub-command in its own file under Commands/,
/// exposing a static <c>Create()</c> that returns a <see cref="Command"/>.
/// User errors (<see cref="AsdtException"/>) print one line and exit 2; no stack trace.
/// </summary>
public static class AsdtCommandLine
{
    /// <summary>The arguments of the running command (result tables print the command that made them).</summary>
    public static string[] Arguments { get; private set; } = [];

    /// <summary>"asdt &lt;arguments&gt;", quoted where needed.</summary>
    public static string CommandText() =>
        "asdt " + string.Join(" ", Arguments.Select(a => a.Length == 0 || a.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$') ? $"'{a.Replace("'", "'\\''")}'" : a));

    public static int Run(string[] args)
    {
        Arguments = args;
        var root = new RootCommand("Asdt: Alternate Self-Dual Teaching for weakly supervised semantic segmentation.");
        foreach (var command in Commands()) root.Subcommands.Add(command);
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (UserError(e) is AsdtException user)
        {
            Console.Error.WriteLine($"asdt: error: {user.Message}");
            return 2;
        }
    }

    static IEnumerable<Command> Commands()
    {
        yield return Asdt.Cli.Commands.DemoCommand.Create();
        yield return Asdt.Cli.Commands.DemoDataCommand.Create();
        yield return Asdt.Cli.Commands.DatasetCommand.Create();
        yield return Asdt.Cli.Commands.CrfCommand.Create();
        yield return Asdt.Cli.Commands.TrainCommand.Create();
        yield return Asdt.Cli.Commands.PsmCommand.Create();
        yield return Asdt.Cli.Commands.EvalCommand.Create();
        yield return Asdt.Cli.Commands.EvalRunCommand.Create();
        yield return Asdt.Cli.Commands.SelectCheckpointCommand.Create();
        yield return Asdt.Cli.Commands.CompareCommand.Create();
        yield return Asdt.Cli.Commands.ReportCommand.Create();
        yield return Asdt.Cli.Commands.AblateCommand.Create();
        yield return Asdt.Cli.Commands.SweepCommand.Create();
        yield return Asdt.Cli.Commands.SegTrainCommand.Create();
        yield return Asdt.Cli.Commands.SegEvalCommand.Create();
        yield return Asdt.Cli.Commands.SegmentCommand.Create();
        yield return Asdt.Cli.Commands.ExportOnnxCommand.Create();
        yield return Asdt.Cli.Commands.DoctorCommand.Create();
    }

    static AsdtException? UserError(Exception e)
    {
        for (Exception? x = e; x != null; x = x.InnerException)
            if (x is AsdtException a) return a;
        if (e is AggregateException agg)
            foreach (var inner in agg.Flatten().InnerExceptions)
                if (UserError(inner) is AsdtException a) return a;
        return null;
    }
}
