using System.Diagnostics;
using Spectre.Console;

namespace Asdt.Runs;

/// <summary>Where a long job reports how far it is.</summary>
public interface IProgressSink
{
    /// <summary>Sets the number of finished items and a short status (phase, losses).</summary>
    void Report(long done, string status);
}

/// <summary>
/// Progress for long jobs: items done / total, rate, ETA and a status text. A live Spectre.Console
/// bar on an interactive terminal; on redirected output (CI, logs) one plain line every few seconds.
/// </summary>
public static class ProgressDisplay
{
    public static void Run(string title, long total, long alreadyDone, Action<IProgressSink> body, double plainIntervalSeconds = 10)
    {
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!interactive)
        {
            var sink = new PlainSink(title, total, alreadyDone, plainIntervalSeconds);
            body(sink);
            sink.Finish();
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                     new RateColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(1, total));
                task.Value = alreadyDone;
                body(new SpectreSink(task, title, total));
            });
    }

    sealed class SpectreSink(ProgressTask task, string title, long total) : IProgressSink
    {
        public void Report(long done, string status)
        {
            task.Value = done;
            task.Description = Markup.Escape($"{title} {done}/{total} {status}");
        }
    }

    sealed class RateColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double s ? $"{s:0.00}/s" : "-/s");
    }

    sealed class PlainSink : IProgressSink
    {
        readonly string title;
        readonly long total, start;
        readonly double interval;
        readonly Stopwatch clock = Stopwatch.StartNew();
        double lastPrint = double.NegativeInfinity;
        long done;
        string status = "";

        public PlainSink(string title, long total, long start, double interval)
        {
            this.title = title; this.total = total; this.start = start; this.interval = interval; done = start;
        }

        public void Report(long done, string status)
        {
            this.done = done; this.status = status;
            double now = clock.Elapsed.TotalSeconds;
            if (now - lastPrint >= interval || done >= total) { Print(now); lastPrint = now; }
        }

        void Print(double now)
        {
            double rate = now > 0 ? (done - start) / now : 0;
            string eta = rate > 0 ? TimeSpan.FromSeconds((total - done) / rate).ToString(@"hh\:mm\:ss") : "--:--:--";
            Console.WriteLine($"{title}: {done}/{total} ({100.0 * done / Math.Max(1, total):0.0}%) {rate:0.00}/s ETA {eta} {status}");
        }

        public void Finish()
        {
            if (clock.Elapsed.TotalSeconds - lastPrint > 0.5) Print(clock.Elapsed.TotalSeconds);
        }
    }
}
