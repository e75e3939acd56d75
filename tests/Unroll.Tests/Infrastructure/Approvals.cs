using System;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Unroll.Tests.Infrastructure;

/// <summary>
/// Approved-file snapshots in Verify's conventions: Snapshots/{Class}.{Test}#{name}.verified.cs is
/// committed; on a mismatch the new text is written beside it as .received.cs (git-ignored) and the
/// test fails with the first differing lines. Approve a change by renaming received to verified.
/// </summary>
public static class Approvals
{
    public static void Verify(string actual, string name, string testClass, [CallerMemberName] string test = "", [CallerFilePath] string callerFile = "")
    {
        string? problem = Check(actual, name, testClass, test, callerFile);
        if (problem is not null)
            Assert.Fail(problem);
    }

    /// <summary>Compares one snapshot; returns null when it matches, else what is wrong (and writes the .received.cs file).</summary>
    public static string? Check(string actual, string name, string testClass, string test, [CallerFilePath] string callerFile = "")
    {
        string folder = Path.Combine(Path.GetDirectoryName(callerFile)!, "..", "Snapshots");
        Directory.CreateDirectory(folder);
        string stem = Path.Combine(folder, $"{testClass}.{test}#{name}");
        string verified = stem + ".verified.cs", received = stem + ".received.cs";
        string normalised = Scrub(actual);
        if (File.Exists(verified) && File.ReadAllText(verified).ReplaceLineEndings("\n") == normalised)
        {
            File.Delete(received);
            return null;
        }
        File.WriteAllText(received, normalised, new UTF8Encoding(false));
        if (!File.Exists(verified))
            return $"No approved snapshot {Path.GetFileName(verified)}; the output is in {received}. Review it and rename it to .verified.cs.";
        return $"Generated code changed; see {received}.\n{FirstDifference(File.ReadAllText(verified).ReplaceLineEndings("\n"), normalised)}";
    }

    /// <summary>Line endings to \n, no BOM, version strings replaced.</summary>
    private static string Scrub(string text) =>
        Regex.Replace(text.TrimStart('\uFEFF').ReplaceLineEndings("\n"), @"\b\d+\.\d+\.\d+\.\d+\b", "{version}");

    private static string FirstDifference(string expected, string actual)
    {
        string[] a = expected.Split('\n'), b = actual.Split('\n');
        int i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i])
            i++;
        var text = new StringBuilder($"First difference at line {i + 1}:\n");
        for (int k = Math.Max(0, i - 2); k < Math.Min(Math.Max(a.Length, b.Length), i + 4); k++)
        {
            if (k < a.Length && (k >= b.Length || a[k] != b[k]))
                text.Append("- ").Append(a[k]).Append('\n');
            if (k < b.Length && (k >= a.Length || a[k] != b[k]))
                text.Append("+ ").Append(b[k]).Append('\n');
            if (k < a.Length && k < b.Length && a[k] == b[k])
                text.Append("  ").Append(a[k]).Append('\n');
        }
        return text.ToString();
    }
}
