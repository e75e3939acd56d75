using System.Collections.Generic;

namespace Unroll.Generator.Plan;

/// <summary>
/// Places tensors in one workspace at compile time, reusing the room of tensors no step reads any more. Blocks belong to
/// tensors by index; a buffer of one step that is no tensor (a split input) takes a negative owner.
/// Steps are numbered in the order they run; a block placed for a tensor stays until the step after its
/// last reader. Placement is first fit in offset order, every block a multiple of 16 floats, so a
/// 64-byte aligned workspace keeps every tensor aligned.
/// </summary>
internal sealed class Arena
{
    private readonly List<Block> _blocks = new();

    private sealed class Block
    {
        public int Offset;
        public int Length;
        public int Owner;
        public int LastStep;
    }

    /// <summary>Floats the workspace needs for every block placed so far.</summary>
    public int Length { get; private set; }

    /// <summary>Makes the room of every block whose last step is before <paramref name="step"/> free again.</summary>
    public void Release(int step) => _blocks.RemoveAll(b => b.LastStep < step);

    /// <summary>Places <paramref name="length"/> floats for <paramref name="owner"/>, kept through <paramref name="lastStep"/>; returns the offset.</summary>
    public int Place(int owner, int length, int lastStep)
    {
        length = Planner.Pad(length);
        int offset = 0;
        _blocks.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        foreach (Block block in _blocks)
        {
            if (block.Offset - offset >= length)
                break;
            offset = System.Math.Max(offset, block.Offset + block.Length);
        }
        _blocks.Add(new Block { Offset = offset, Length = length, Owner = owner, LastStep = lastStep });
        Length = System.Math.Max(Length, offset + length);
        return offset;
    }

    /// <summary>Hands the block of <paramref name="owner"/> over to <paramref name="newOwner"/> (the tensor now lives in place of the old one), kept through <paramref name="lastStep"/>.</summary>
    public void HandOver(int owner, int newOwner, int lastStep)
    {
        foreach (Block block in _blocks)
            if (block.Owner == owner)
            {
                block.Owner = newOwner;
                block.LastStep = lastStep;
                return;
            }
        throw new System.InvalidOperationException($"No block belongs to tensor {owner}.");
    }
}
