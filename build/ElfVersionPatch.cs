// Build-time fix that lets TorchSharp 0.107.0's native shim load on Debian 12.
//
// libLibTorchSharp.so declares a need for symbol version GLIBCXX_3.4.32 (GCC 13). Debian 12's
// libstdc++ stops at GLIBCXX_3.4.30, so the dynamic loader refuses the library. The only symbol
// bound to that version is _ZSt21ios_base_library_initv and no relocation refers to it, so the
// requirement can safely be made *weak*: setting VER_FLG_WEAK (0x2) in vna_flags of that Vernaux
// entry of .gnu.version_r makes the loader accept a libstdc++ that lacks the version.
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory as an inline task (see
// LibTorchSharpGlibcxx.targets) and into the test project (with ASDT_NO_MSBUILD defined), so the
// ELF logic is unit-tested on the real library. It only ever rewrites the copy it is given
// (write to a temporary file, then rename), so a hard link into the NuGet cache is never touched.
#nullable enable
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.IO;
using System.Text;

namespace Asdt.Build
{
    public enum ElfPatchOutcome { Patched, AlreadyWeak, NotNeeded }

    public sealed class ElfPatchException : Exception
    {
        public ElfPatchException(string message) : base(message) { }
    }

    /// <summary>Reads and edits the version-needs table (.gnu.version_r) of an ELF64 little-endian file.</summary>
    public static class ElfVersionPatch
    {
        public const ushort VerFlgWeak = 0x2;
        const uint ShtGnuVerneed = 0x6ffffffe;
        const uint ShtGnuVersym = 0x6fffffff;
        const uint ShtDynsym = 11;
        const uint ShtRela = 4;

        public sealed class VersionNeed
        {
            public string File = "";
            public string Version = "";
            public ushort Flags;
            public ushort Other;          // version index used in .gnu.version
            public long FlagsOffset;      // file offset of vna_flags
            public List<string> Symbols = new List<string>();
            public bool ReferencedByRelocation;
        }

        struct Section { public string Name; public uint Type; public long Offset; public long Size; public uint Link; public uint Info; public long EntSize; }

        /// <summary>All version requirements of the file, with the dynamic symbols bound to each.</summary>
        public static List<VersionNeed> ReadVersionNeeds(byte[] elf, string pathForMessages)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new ElfPatchException(pathForMessages + ": not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new ElfPatchException(pathForMessages + ": not a 64-bit little-endian ELF file");
            long shoff = (long)U64(elf, 0x28, pathForMessages);
            int shentsize = U16(elf, 0x3A, pathForMessages), shnum = U16(elf, 0x3C, pathForMessages), shstrndx = U16(elf, 0x3E, pathForMessages);
            if (shentsize != 64 || shnum == 0 || shstrndx >= shnum)
                throw new ElfPatchException(pathForMessages + ": unexpected ELF section header layout");
            var sections = new Section[shnum];
            for (int i = 0; i < shnum; i++)
            {
                long b = Checked(shoff + (long)i * 64, 64, elf.Length, pathForMessages);
                sections[i] = new Section
                {
                    Type = U32(elf, b + 4, pathForMessages),
                    Offset = (long)U64(elf, b + 24, pathForMessages),
                    Size = (long)U64(elf, b + 32, pathForMessages),
                    Link = U32(elf, b + 40, pathForMessages),
                    Info = U32(elf, b + 44, pathForMessages),
                    EntSize = (long)U64(elf, b + 56, pathForMessages),
                };
                sections[i].Name = U32(elf, b, pathForMessages).ToString();
            }
            var shstr = sections[shstrndx];
            for (int i = 0; i < shnum; i++)
                sections[i].Name = Str(elf, shstr.Offset + long.Parse(sections[i].Name), pathForMessages);

            int verneedIndex = Array.FindIndex(sections, s => s.Type == ShtGnuVerneed);
            if (verneedIndex < 0) throw new ElfPatchException(pathForMessages + ": no .gnu.version_r section");
            var vr = sections[verneedIndex];
            var strtab = sections[(int)vr.Link];
            var needs = new List<VersionNeed>();
            long entry = vr.Offset;
            for (uint n = 0; n < vr.Info; n++)
            {
                Checked(entry, 16, elf.Length, pathForMessages);
                int cnt = U16(elf, entry + 2, pathForMessages);
                string file = Str(elf, strtab.Offset + U32(elf, entry + 4, pathForMessages), pathForMessages);
                long aux = entry + U32(elf, entry + 8, pathForMessages);
                for (int a = 0; a < cnt; a++)
                {
                    Checked(aux, 16, elf.Length, pathForMessages);
                    needs.Add(new VersionNeed
                    {
                        File = file,
                        Flags = (ushort)U16(elf, aux + 4, pathForMessages),
                        Other = (ushort)U16(elf, aux + 6, pathForMessages),
                        Version = Str(elf, strtab.Offset + U32(elf, aux + 8, pathForMessages), pathForMessages),
                        FlagsOffset = aux + 4,
                    });
                    uint nextAux = U32(elf, aux + 12, pathForMessages);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = U32(elf, entry + 12, pathForMessages);
                if (next == 0) break;
                entry += next;
            }

            // Bind dynamic symbols to their version index (.gnu.version parallels .dynsym).
            int dynsymIndex = Array.FindIndex(sections, s => s.Type == ShtDynsym);
            int versymIndex = Array.FindIndex(sections, s => s.Type == ShtGnuVersym);
            if (dynsymIndex >= 0 && versymIndex >= 0)
            {
                var dynsym = sections[dynsymIndex];
                var dynstr = sections[(int)dynsym.Link];
                var versym = sections[versymIndex];
                long count = dynsym.Size / 24;
                var byIndex = new Dictionary<int, VersionNeed>();
                foreach (var v in needs) byIndex[v.Other] = v;
                var symbolIndexToNeed = new Dictionary<long, VersionNeed>();
                for (long s = 0; s < count; s++)
                {
                    int ver = U16(elf, versym.Offset + s * 2, pathForMessages) & 0x7fff;
                    if (byIndex.TryGetValue(ver, out var need))
                    {
                        need.Symbols.Add(Str(elf, dynstr.Offset + U32(elf, dynsym.Offset + s * 24, pathForMessages), pathForMessages));
                        symbolIndexToNeed[s] = need;
                    }
                }
                foreach (var rel in sections)
                {
                    if (rel.Type != ShtRela || rel.Link != dynsymIndex) continue;
                    for (long r = 0; r + 24 <= rel.Size; r += 24)
                    {
                        long sym = (long)(U64(elf, rel.Offset + r + 8, pathForMessages) >> 32);
                        if (sym != 0 && symbolIndexToNeed.TryGetValue(sym, out var need)) need.ReferencedByRelocation = true;
                    }
                }
            }
            return needs;
        }

        /// <summary>
        /// Marks the requirement <paramref name="version"/> of <paramref name="library"/> as weak in the
        /// file at <paramref name="path"/>, after checking it is only needed by
        /// <paramref name="expectedSymbol"/> and no relocation uses it. Rewrites via temp file + rename.
        /// </summary>
        public static ElfPatchOutcome MakeVersionNeedWeak(string path, string library, string version, string expectedSymbol)
        {
            byte[] elf = File.ReadAllBytes(path);
            var needs = ReadVersionNeeds(elf, path);
            var need = needs.Find(v => v.File == library && v.Version == version);
            if (need == null) return ElfPatchOutcome.NotNeeded;
            if ((need.Flags & VerFlgWeak) != 0) return ElfPatchOutcome.AlreadyWeak;
            if (need.Symbols.Count != 1 || need.Symbols[0] != expectedSymbol)
                throw new ElfPatchException(path + ": expected only " + expectedSymbol + " to need " + version + ", found [" + string.Join(", ", need.Symbols) + "]; refusing to patch");
            if (need.ReferencedByRelocation)
                throw new ElfPatchException(path + ": a relocation refers to the " + version + " symbol; refusing to patch");
            ushort flags = (ushort)(need.Flags | VerFlgWeak);
            elf[need.FlagsOffset] = (byte)flags;
            elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
            string tmp = path + ".glibcxx-patch.tmp";
            File.WriteAllBytes(tmp, elf);
            // Replace by rename: breaks any hard link to the package cache instead of writing through it.
            File.Delete(path);
            File.Move(tmp, path);
            return ElfPatchOutcome.Patched;
        }

        /// <summary>True when a libstdc++ on the usual system library paths defines <paramref name="version"/>.</summary>
        public static bool SystemLibstdcxxHasVersion(string version, IEnumerable<string>? candidates = null)
        {
            candidates ??= new[]
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
                "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            };
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            foreach (var c in candidates)
            {
                if (!File.Exists(c)) continue;
                if (IndexOf(File.ReadAllBytes(c), needle) >= 0) return true;
            }
            return false;
        }

        static int IndexOf(byte[] hay, byte[] needle)
        {
            for (int i = 0; i + needle.Length <= hay.Length; i++)
            {
                int j = 0;
                while (j < needle.Length && hay[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }

        static long Checked(long offset, long length, long fileLength, string path)
        {
            if (offset < 0 || length < 0 || offset > fileLength - length)
                throw new ElfPatchException(path + ": truncated or malformed ELF (offset " + offset + " out of range)");
            return offset;
        }
        static int U16(byte[] b, long o, string p) { Checked(o, 2, b.Length, p); return b[o] | (b[o + 1] << 8); }
        static uint U32(byte[] b, long o, string p) { Checked(o, 4, b.Length, p); return BitConverter.ToUInt32(b, (int)o); }
        static ulong U64(byte[] b, long o, string p) { Checked(o, 8, b.Length, p); return BitConverter.ToUInt64(b, (int)o); }
        static string Str(byte[] b, long o, string p)
        {
            Checked(o, 1, b.Length, p);
            long e = o;
            while (e < b.Length && b[e] != 0) e++;
            if (e >= b.Length) throw new ElfPatchException(p + ": unterminated string in ELF string table");
            return Encoding.ASCII.GetString(b, (int)o, (int)(e - o));
        }
    }

#if !ASDT_NO_MSBUILD
    /// <summary>MSBuild task: patches every libLibTorchSharp.so found under the given directories.</summary>
    public sealed class PatchLibTorchSharpGlibcxx : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required] public string Directories { get; set; } = "";

        public override bool Execute()
        {
            const string Version = "GLIBCXX_3.4.32";
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return true;
            if (ElfVersionPatch.SystemLibstdcxxHasVersion(Version))
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "System libstdc++ has " + Version + "; libLibTorchSharp.so left as is.");
                return true;
            }
            foreach (var dir in Directories.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
            {
                if (!Directory.Exists(dir)) continue;
                foreach (var file in Directory.EnumerateFiles(dir, "libLibTorchSharp.so", SearchOption.AllDirectories))
                {
                    try
                    {
                        var outcome = ElfVersionPatch.MakeVersionNeedWeak(file, "libstdc++.so.6", Version, "_ZSt21ios_base_library_initv");
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal, "libLibTorchSharp.so GLIBCXX patch: " + outcome + " (" + file + ")");
                    }
                    catch (Exception e) when (e is ElfPatchException || e is IOException || e is UnauthorizedAccessException)
                    {
                        Log.LogError("TorchSharp GLIBCXX fix: " + e.Message);
                        return false;
                    }
                }
            }
            return true;
        }
    }
#endif
}
