namespace Unroll.Pretrained;

/// <summary>
/// The preprocessing that <see cref="ResNet18"/> expects, compiled at build time from the package's ResNetPreprocess.onnx:
/// 3 x 224 x 224 RGB images with values in 0-255 become BGR images minus the mean image (Split on the channels, Concat in
/// the order B, G, R, Sub of the file's mean image). The mean image is a weight: load it with
/// <c>LoadOnnx(PretrainedModels.PreprocessPath)</c> or use <see cref="PretrainedModels.LoadPreprocess"/>.
/// </summary>
[OnnxNetwork("ResNetPrepOnnx/ResNetPreprocess.onnx")]
public partial class ResNetPreprocess
{
}
