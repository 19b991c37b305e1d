using System.Globalization;
using ScottPlot;

namespace Asdt.Reports;

/// <summary>A named line of a chart.</summary>
public sealed record Series(string Name, double[] X, double[] Y, bool Markers = false, bool Step = false, string? Color = null, double Width = 2, float MarkerSize = 7);

/// <summary>PNG charts for reports and study tables (ScottPlot). One look for all of them.</summary>
public static class Plots
{
    static readonly object fontLock = new();
    static bool fontsReady;

    public static readonly Color[] Colors =
    [
        Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e"), Color.FromHex("#2ca02c"), Color.FromHex("#d62728"),
        Color.FromHex("#9467bd"), Color.FromHex("#8c564b"), Color.FromHex("#e377c2"), Color.FromHex("#7f7f7f"),
    ];

    /// <summary>SkiaSharp's no-dependency build cannot ask fontconfig, so register a system TrueType font by file if one exists.</summary>
    static void EnsureFonts()
    {
        lock (fontLock)
        {
            if (fontsReady) return;
            fontsReady = true;
            string[] candidates =
            [
                "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/TTF/DejaVuSans.ttf",
                "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
                "/System/Library/Fonts/Supplemental/Arial.ttf",
                "C:/Windows/Fonts/arial.ttf",
            ];
            foreach (var file in candidates.Where(File.Exists))
            {
                try
                {
                    Fonts.AddFontFile("ReportSans", file);
                    string bold = file.Replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf").Replace("Regular", "Bold");
                    if (bold != file && File.Exists(bold)) Fonts.AddFontFile("ReportSans", bold, bold: true, italic: false);
                    Fonts.Default = "ReportSans";
                    return;
                }
                catch (Exception) { /* keep ScottPlot's default */ }
            }
        }
    }

    static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        EnsureFonts();
        var plot = new Plot();
        plot.Title(title, size: 15);
        plot.XLabel(xLabel, size: 13);
        plot.YLabel(yLabel, size: 13);
        plot.Grid.MajorLineColor = Color.FromHex("#e5e5e5");
        plot.FigureBackground.Color = Colors_White;
        return plot;
    }

    static readonly Color Colors_White = Color.FromHex("#ffffff");

    static void Save(Plot plot, string path, int width, int height)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var bytes = plot.GetImageBytes(width, height, ImageFormat.Png);
        IO.AtomicFile.WriteAllBytes(path, bytes);
    }

    /// <summary>Lines (optionally with markers or as steps) and optional shaded x-ranges.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        IReadOnlyList<(double From, double To, string Color)>? shaded = null, (double Min, double Max)? yRange = null,
        int width = 640, int height = 300, bool legend = true, double[]? xTicks = null,
        (double Min, double Max)? xRange = null, double[]? yTicks = null)
    {
        var plot = NewPlot(title, xLabel, yLabel);
        if (shaded != null)
            foreach (var (from, to, color) in shaded)
            {
                var span = plot.Add.HorizontalSpan(from, to);
                span.FillColor = Color.FromHex(color).WithAlpha(0.35);
                span.LineColor = Color.FromHex(color).WithAlpha(0);
            }
        int k = 0;
        foreach (var s in series)
        {
            if (s.X.Length == 0) { k++; continue; }
            var color = s.Color != null ? Color.FromHex(s.Color) : Colors[k % Colors.Length];
            k++;
            var scatter = plot.Add.Scatter(s.X, s.Y, color);
            if (legend) scatter.LegendText = s.Name;
            scatter.LineWidth = (float)s.Width;
            scatter.MarkerSize = s.Markers ? s.MarkerSize : 0;
            if (s.Step) scatter.ConnectStyle = ConnectStyle.StepHorizontal;
        }
        if (yRange is { } r) plot.Axes.SetLimitsY(r.Min, r.Max);
        if (xTicks != null) plot.Axes.Bottom.SetTicks(xTicks, xTicks.Select(t => t.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        if (xRange is { } xr) plot.Axes.SetLimitsX(xr.Min, xr.Max);
        if (yTicks != null) plot.Axes.Left.SetTicks(yTicks, yTicks.Select(t => t.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        if (legend && series.Count(s => s.Name.Length > 0) > 1) plot.ShowLegend(Edge.Right);
        else plot.HideLegend();
        Save(plot, path, width, height);
    }

    /// <summary>Vertical bars with category labels and value labels on top.</summary>
    public static void Bars(string path, string title, string yLabel, IReadOnlyList<string> labels, IReadOnlyList<double?> values,
        (double Min, double Max)? yRange = null, int width = 640, int height = 320, string valueFormat = "0.0", double labelScale = 1)
    {
        var plot = NewPlot(title, "", yLabel);
        var bars = new List<Bar>();
        for (int i = 0; i < labels.Count; i++)
        {
            if (values[i] is not double v) continue;
            bars.Add(new Bar
            {
                Position = i, Value = v, FillColor = Colors[0],
                Label = (v * labelScale).ToString(valueFormat, System.Globalization.CultureInfo.InvariantCulture),
            });
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 11;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, labels.Count).Select(i => (double)i).ToArray(), labels.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = labels.Count > 8 ? -45 : 0;
        plot.Axes.Bottom.TickLabelStyle.Alignment = labels.Count > 8 ? Alignment.MiddleRight : Alignment.UpperCenter;
        plot.Axes.Bottom.MinimumSize = labels.Count > 8 ? 90 : 30;
        plot.Axes.Margins(bottom: 0);
        if (yRange is { } r) plot.Axes.SetLimitsY(r.Min, r.Max);
        Save(plot, path, width, height);
    }

    /// <summary>Horizontal stacked bars: one bar per group, one segment per part (e.g. seconds per part per phase).</summary>
    public static void StackedBars(string path, string title, string xLabel, IReadOnlyList<string> groups, IReadOnlyList<string> parts,
        double[,] values, int width = 640, int height = 260)
    {
        var plot = NewPlot(title, xLabel, "");
        for (int p = 0; p < parts.Count; p++)
        {
            var bars = new List<Bar>();
            for (int g = 0; g < groups.Count; g++)
            {
                double start = 0;
                for (int q = 0; q < p; q++) start += values[g, q];
                bars.Add(new Bar { Position = g, ValueBase = start, Value = start + values[g, p], FillColor = Colors[p % Colors.Length], Orientation = Orientation.Horizontal });
            }
            var bp = plot.Add.Bars(bars);
            bp.Horizontal = true;
            bp.LegendText = parts[p];
        }
        plot.Axes.Left.SetTicks(Enumerable.Range(0, groups.Count).Select(i => (double)i).ToArray(), groups.ToArray());
        plot.Axes.Margins(left: 0);
        plot.ShowLegend(Edge.Right);
        Save(plot, path, width, height);
    }

    /// <summary>
    /// Fig. 5: PSM mIoU vs τ, one line per period T; for a sweep of periods at one τ (the figure's second panel),
    /// mIoU vs T instead (<see cref="SweepTable.PlotsAgainstPeriod"/>).
    /// </summary>
    public static void Sweep(string path, SweepTable table)
    {
        var inv = CultureInfo.InvariantCulture;
        bool againstPeriod = table.PlotsAgainstPeriod;
        double X(SweepPoint p) => againstPeriod ? p.Period : p.Tau;
        // One line per period (the T panel: one line over the periods), through the means over seeds; with several seeds,
        // each seed's value as an unconnected marker in the line's colour, so the seed spread is seen beside the effect.
        var groups = againstPeriod ? [table.Points] : table.Periods.Select(period => table.Points.Where(p => p.Period == period).ToArray()).ToArray();
        var series = new List<Series>();
        for (int k = 0; k < groups.Length; k++)
        {
            var pts = groups[k].Where(p => p.MeanIoU.HasValue).OrderBy(X).ToArray();
            string color = Colors[k % Colors.Length].ToHex();
            string name = againstPeriod ? string.Create(inv, $"τ = {table.Taus[0]}") : $"T = {groups[k][0].Period}";
            series.Add(new Series(table.SeveralSeeds ? $"{name}, mean of seeds" : name, pts.Select(X).ToArray(), pts.Select(p => 100 * p.MeanIoU!.Value).ToArray(),
                Markers: true, Color: color));
            if (!table.SeveralSeeds) continue;
            var seeds = pts.SelectMany(p => p.Seeds.Where(x => x.Final.HasValue).Select(x => (X: X(p), Y: 100 * x.Final!.Value))).ToArray();
            series.Add(new Series("", seeds.Select(x => x.X).ToArray(), seeds.Select(x => x.Y).ToArray(), Markers: true, Color: color, Width: 0, MarkerSize: 4));
        }
        string seedsNote = table.SeveralSeeds ? "; dots: seeds" : "";
        if (againstPeriod)
            Lines(path, string.Create(inv, $"PSM mIoU vs period T, τ = {table.Taus[0]}{seedsNote}"), "T (iterations)", "mIoU (%)", series,
                yRange: SweepRange(series.SelectMany(l => l.Y)), xTicks: table.Periods.Select(p => (double)p).ToArray(), width: 640, height: 380);
        else
            Lines(path, $"PSM mIoU vs τ, one line per T{seedsNote}", "τ = T / T_h", "mIoU (%)", series, yRange: SweepRange(series.SelectMany(l => l.Y)),
                xTicks: table.Taus, width: 640, height: 380);
    }

    /// <summary>
    /// The sweep plots' y axis spans at least <see cref="MinimumSweepSpan"/> mIoU points around the data, so that
    /// differences of a tenth of a point (one seed's noise) do not fill the picture like the paper's one-point effects.
    /// </summary>
    public static (double Min, double Max)? SweepRange(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return null;
        double lo = v.Min(), hi = v.Max(), pad = Math.Max(0, MinimumSweepSpan - (hi - lo)) / 2 + 0.1 * Math.Max(hi - lo, 0.5);
        return (lo - pad, hi + pad);
    }

    const double MinimumSweepSpan = 2.0;
}
