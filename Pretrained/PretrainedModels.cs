using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;

namespace Unroll.Pretrained;

/// <summary>
/// Finds the model files of the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 at run time and loads them. The
/// build copies them beside the program (DnnImageModels/...); the package folder of the NuGet cache is the fallback, and the
/// environment variable <see cref="FolderVariable"/> names a folder of one's own.
/// </summary>
public static class PretrainedModels
{
    /// <summary>The environment variable that names a folder holding ResNet18Onnx/ and ResNetPrepOnnx/ (checked first).</summary>
    public const string FolderVariable = "UNROLL_PRETRAINED_MODELS";

    /// <summary>The network's file, relative to the package's DnnImageModels folder.</summary>
    public const string ResNet18File = "ResNet18Onnx/ResNet18.onnx";

    /// <summary>The preprocessing's file, relative to the package's DnnImageModels folder.</summary>
    public const string PreprocessFile = "ResNetPrepOnnx/ResNetPreprocess.onnx";

    /// <summary>The package version the build downloaded (Directory.Packages.props), for the NuGet cache fallback.</summary>
    public static string PackageVersion { get; } =
        typeof(PretrainedModels).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "ResNet18PackageVersion")?.Value ?? "0.23.1";

    /// <summary>The full path of ResNet18.onnx. <exception cref="FileNotFoundException">It is in none of the places looked at (all named).</exception></summary>
    public static string ResNet18Path => Locate(ResNet18File);

    /// <summary>The full path of ResNetPreprocess.onnx. <exception cref="FileNotFoundException">It is in none of the places looked at (all named).</exception></summary>
    public static string PreprocessPath => Locate(PreprocessFile);

    /// <summary>A new <see cref="ResNet18"/> with the pretrained weights.</summary>
    /// <param name="options">Instruction set and threads; null for the defaults.</param>
    /// <exception cref="FileNotFoundException">The model file is missing (the message names where it looked).</exception>
    public static ResNet18 LoadResNet18(NetworkOptions? options = null) => Load(new ResNet18(options), ResNet18Path, ResNet18.OnnxWeightBindings);

    /// <summary>A new <see cref="ResNetPreprocess"/> with the package's mean image.</summary>
    /// <param name="options">Instruction set and threads; null for the defaults.</param>
    /// <exception cref="FileNotFoundException">The model file is missing (the message names where it looked).</exception>
    public static ResNetPreprocess LoadPreprocess(NetworkOptions? options = null) => Load(new ResNetPreprocess(options), PreprocessPath, ResNetPreprocess.OnnxWeightBindings);

    /// <summary>Loads <paramref name="network"/>'s weights from <paramref name="path"/>, disposing it if that fails.</summary>
    private static T Load<T>(T network, string path, IReadOnlyList<Unroll.Onnx.OnnxWeightBinding> bindings) where T : Network
    {
        try
        {
            Unroll.Onnx.OnnxWeights.Load(network, path, bindings);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The places looked at for <paramref name="file"/> (relative to DnnImageModels), in order.</summary>
    public static IReadOnlyList<string> Candidates(string file)
    {
        var folders = new List<string>();
        if (Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } own)
            folders.Add(own);
        folders.Add(Path.Combine(AppContext.BaseDirectory, "DnnImageModels"));
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } root ? root
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        folders.Add(Path.Combine(packages, "microsoft.ml.dnnimagefeaturizer.resnet18", PackageVersion, "tools", "DnnImageModels"));
        return folders.Select(f => Path.GetFullPath(Path.Combine(f, file))).ToArray();
    }

    /// <summary>The first of <see cref="Candidates"/> that exists.</summary>
    /// <param name="file">A path relative to the package's DnnImageModels folder, such as <see cref="ResNet18File"/>.</param>
    /// <exception cref="FileNotFoundException">None exists; the message names every place looked at.</exception>
    public static string Locate(string file)
    {
        IReadOnlyList<string> candidates = Candidates(file);
        foreach (string path in candidates)
            if (File.Exists(path))
                return path;
        throw new FileNotFoundException(
            $"{Path.GetFileName(file)} (from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 {PackageVersion}) was not found; looked at "
            + string.Join(", ", candidates) + $". Build a project that references Unroll.Pretrained (restore downloads the package), or set {FolderVariable} to a folder holding {file}.",
            candidates[0]);
    }
}
