using System.Globalization;
using System.Net;
using System.Text;

namespace Asdt.Reports;

/// <summary>What the stage-1 and stage-2 reports share: the HTML builder, summary cards, durations, file-safe names and the CSS.</summary>
internal static class HtmlReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Card(Html html, string title, string value, string detail) =>
        html.Raw($"<div class=\"card\"><div class=\"t\">{Html.Encode(title)}</div><div class=\"v\">{Html.Encode(value)}</div><div class=\"d\">{Html.Encode(detail)}</div></div>");

    public static string Duration(double seconds) =>
        seconds < 60 ? $"{seconds:0} s" : TimeSpan.FromSeconds(seconds).ToString(seconds >= 3600 ? @"h\:mm\:ss" : @"m\:ss", Inv);

    /// <summary>HTML text with images either as relative links into the asset folder or base64-embedded.</summary>
    public sealed class Html(string assets, bool embed)
    {
        readonly StringBuilder sb = new();
        public void Raw(string text) => sb.Append(text);
        public static string Encode(string text) => WebUtility.HtmlEncode(text);

        public string Image(string file, string alt, string cssClass = "")
        {
            string src = embed
                ? "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(file))
                : $"{RunReport.AssetFolder}/{Uri.EscapeDataString(Path.GetRelativePath(assets, file))}";
            return $"<img src=\"{src}\" alt=\"{Encode(alt)}\"{(cssClass.Length > 0 ? $" class=\"{cssClass}\"" : "")}>";
        }

        public override string ToString() => sb.ToString();
    }

    /// <summary>The VOC palette colour of every class, and the ignore colour.</summary>
    public static void Legend(Html html, IReadOnlyList<string> classNames)
    {
        html.Raw("<p class=\"legend\">");
        for (int c = 0; c < classNames.Count; c++)
        {
            var (r, g, b) = Asdt.Data.VocPalette.Color(c);
            html.Raw($"<span><i style=\"background:rgb({r},{g},{b})\"></i>{Html.Encode(classNames[c])}</span>");
        }
        html.Raw("<span><i style=\"background:rgb(224,224,192)\"></i>ignore (255)</span></p>");
    }

    public static double[] MovingAverage(double[] values, int window)
    {
        var output = new double[values.Length];
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            output[i] = sum / Math.Min(i + 1, window);
        }
        return output;
    }

    /// <summary>The configuration: key values, deviations from the paper, command-line overrides, the full JSON and the run's files.</summary>
    public static void ConfigSection(Html html, IEnumerable<(string Key, string Value)> summary, string[] deviations, string[] overrides, string json)
    {
        html.Raw("<h2>Configuration</h2><table class=\"kv\">");
        foreach (var (k, v) in summary) html.Raw($"<tr><th>{Html.Encode(k)}</th><td>{Html.Encode(v)}</td></tr>");
        html.Raw("</table><h3>Deviations from the paper's setting</h3>");
        if (overrides.Length > 0) html.Raw("<p class=\"note\">The preset's list; the command-line overrides below take precedence where they touch the same value.</p>");
        html.Raw(deviations.Length == 0 ? "<p class=\"note\">none</p>" : "<ul>" + string.Concat(deviations.Select(d => $"<li>{Html.Encode(d)}</li>")) + "</ul>");
        html.Raw("<h3>Overrides on the command line</h3>");
        html.Raw(overrides.Length == 0 ? "<p class=\"note\">none</p>" : "<ul>" + string.Concat(overrides.Select(d => $"<li><code>{Html.Encode(d)}</code></li>")) + "</ul>");
        html.Raw($"<details><summary>config.json</summary><pre>{Html.Encode(json)}</pre></details>");
        html.Raw("<p class=\"sub\">Files: <a href=\"config.json\">config.json</a> · <a href=\"metrics.jsonl\">metrics.jsonl</a></p>");
    }

    public static string Safe(string text) => string.Concat(text.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));

    public const string Css = """
        *{box-sizing:border-box}
        body{margin:0;background:#f4f5f7;color:#1d232b;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
        main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff;min-height:100vh;box-shadow:0 0 12px rgba(0,0,0,.06)}
        h1{font-size:26px;margin:0 0 4px} h2{font-size:20px;margin:36px 0 10px;padding-bottom:4px;border-bottom:2px solid #e3e6ea} h3{font-size:16px;margin:22px 0 8px}
        code{background:#f0f2f5;padding:1px 5px;border-radius:4px;font-size:90%}
        .sub{color:#68717d;font-size:13px;margin:0 0 16px} .note{color:#4f5863;font-size:13.5px}
        .cards{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0}
        .card{flex:1 1 140px;border:1px solid #e3e6ea;border-radius:10px;padding:10px 14px;background:#fafbfc}
        .card .t{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#68717d} .card .v{font-size:22px;font-weight:600} .card .d{font-size:12.5px;color:#68717d}
        .grid{display:flex;flex-wrap:wrap;gap:10px} .grid img{width:calc(50% - 5px);border:1px solid #eceef1;border-radius:6px}
        img.wide{width:100%;border:1px solid #eceef1;border-radius:6px}
        table{border-collapse:collapse;margin:8px 0 14px;font-size:14px} th,td{padding:5px 10px;border-bottom:1px solid #e8eaed;text-align:left;vertical-align:top}
        th{background:#f6f7f9;font-weight:600} table.num td:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}
        table.kv th{width:210px}
        table.examples{width:100%;table-layout:fixed} table.examples th{font-size:12.5px;text-align:center} table.examples td{padding:4px;text-align:center}
        table.examples td.id{width:110px;text-align:left;font-size:12.5px;word-break:break-all} table.examples img{width:100%;image-rendering:pixelated;border-radius:4px;display:block}
        table.examples th:first-child{width:110px}
        .cls{color:#68717d}
        .legend span{display:inline-block;margin:0 14px 4px 0;font-size:13px} .legend i{display:inline-block;width:13px;height:13px;border-radius:3px;margin-right:5px;vertical-align:-2px;border:1px solid #bbb}
        details{margin:10px 0} pre{background:#f6f7f9;padding:10px;border-radius:6px;overflow:auto;font-size:12px}
        a{color:#1a5fb4}
        """;
}
