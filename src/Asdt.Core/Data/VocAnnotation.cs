using System.Xml;

namespace Asdt.Data;

/// <summary>Reads the object class names of a PASCAL VOC annotation (&lt;annotation&gt;&lt;object&gt;&lt;name&gt;).
/// No DTD processing, no external resolution, bounded size.</summary>
public static class VocAnnotation
{
    public const long MaxFileBytes = 4L << 20;

    /// <summary>The &lt;name&gt; of every &lt;object&gt; (direct child only: part names such as "head" are not objects), in file order.</summary>
    public static IReadOnlyList<string> ObjectNames(string path)
    {
        var bytes = DataFiles.ReadAllBytes(path, MaxFileBytes);
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxFileBytes,
            IgnoreComments = true,
            IgnoreWhitespace = true,
        };
        var names = new List<string>();
        try
        {
            using var reader = XmlReader.Create(new MemoryStream(bytes), settings);
            int objectDepth = -1;
            bool positioned = false; // ReadElementContentAsString leaves the reader on the next node already
            while (positioned ? !reader.EOF : reader.Read())
            {
                positioned = false;
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "object") objectDepth = reader.Depth;
                else if (reader.NodeType == XmlNodeType.EndElement && reader.LocalName == "object" && reader.Depth == objectDepth) objectDepth = -1;
                else if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "name" && objectDepth >= 0 && reader.Depth == objectDepth + 1)
                {
                    names.Add(reader.ReadElementContentAsString().Trim());
                    positioned = true;
                }
            }
        }
        catch (XmlException e) { throw new AsdtException(path, $"not a valid annotation XML ({e.Message})", e); }
        return names;
    }
}
