using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Unroll.Data;

namespace Unroll.Tests.Data;

public sealed class BatchLoaderTests
{
    /// <summary><paramref name="count"/> samples of 1x2x3 whose six values encode the sample index; label = index mod 10.</summary>
    private static Dataset Numbered(int count)
    {
        var shape = new Shape(1, 2, 3);
        float[] images = new float[count * shape.Length];
        for (int i = 0; i < images.Length; i++)
            images[i] = i / shape.Length + (i % shape.Length) / 10f;
        return new Dataset(images, Enumerable.Range(0, count).Select(i => i % 10).ToArray(), shape, 10);
    }

    /// <summary>A batch copied out of the loader's buffer.</summary>
    private sealed record Snapshot(int Epoch, int Index, int Count, int[] Indices, int[] Labels, float[] Images)
    {
        public static Snapshot Of(Batch b) => new(b.Epoch, b.Index, b.Count, b.Indices.ToArray(), b.Labels.ToArray(), b.Images.ToArray());

        public bool Same(Snapshot o) =>
            (Epoch, Index, Count) == (o.Epoch, o.Index, o.Count) && Indices.SequenceEqual(o.Indices) && Labels.SequenceEqual(o.Labels) && Images.SequenceEqual(o.Images);
    }

    private static List<Snapshot> Collect(BatchLoader loader, int epoch, CancellationToken token = default) =>
        loader.Epoch(epoch, token).Select(Snapshot.Of).ToList();

    [Fact]
    public void Order_is_a_seeded_permutation_that_never_changes()
    {
        using var loader = new BatchLoader(Numbered(10), 4, seed: 42);
        // Pinned: the same on every run, machine and .NET version (SeededRandom is SplitMix64;
        // these values were also computed by the Python mirror in tools/make-fashion-subset.py).
        Assert.Equal([1, 5, 4, 6, 3, 9, 0, 7, 8, 2], loader.Order(0));
        Assert.Equal([8, 5, 4, 9, 6, 0, 2, 1, 7, 3], loader.Order(1));
        using var other = new BatchLoader(Numbered(20), 3, seed: 7, prefetch: 0);
        Assert.Equal([6, 7, 18, 2, 1, 12, 5, 10, 19, 13, 11, 0, 14, 16, 17, 8, 9, 15, 3, 4], other.Order(3));
    }

    [Fact]
    public void Order_depends_on_seed_and_epoch_only()
    {
        Dataset data = Numbered(1000);
        using var a = new BatchLoader(data, 32, seed: 5);
        using var b = new BatchLoader(data, 7, seed: 5, dropLast: true, prefetch: 0);
        using var c = new BatchLoader(data, 32, seed: 6);
        int[] a3 = a.Order(3);
        for (int e = 0; e < 5; e++)
        {
            int[] order = a.Order(e);
            Assert.Equal(Enumerable.Range(0, 1000), order.Order());
            Assert.Equal(order, b.Order(e));
            Assert.NotEqual(order, c.Order(e));
            if (e != 3)
                Assert.NotEqual(a3, order);
        }
        Assert.Equal(a3, a.Order(3));
        using var unshuffled = new BatchLoader(data, 32, seed: 5, shuffle: false);
        Assert.Equal(Enumerable.Range(0, 1000), unshuffled.Order(4));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Every_sample_appears_exactly_once_per_epoch(int prefetch)
    {
        Dataset data = Numbered(103);
        using var loader = new BatchLoader(data, 10, seed: 1, prefetch: prefetch);
        Assert.Equal(11, loader.BatchesPerEpoch);
        Assert.Equal(103, loader.SamplesPerEpoch);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            List<Snapshot> batches = Collect(loader, epoch);
            Assert.Equal(Enumerable.Range(0, 11), batches.Select(b => b.Index));
            Assert.All(batches, b => Assert.Equal(epoch, b.Epoch));
            Assert.Equal(Enumerable.Repeat(10, 10).Append(3), batches.Select(b => b.Count));
            int[] visited = batches.SelectMany(b => b.Indices).ToArray();
            Assert.Equal(loader.Order(epoch), visited);
            Assert.Equal(Enumerable.Range(0, 103), visited.Order());
            foreach (Snapshot b in batches)
            {
                for (int k = 0; k < b.Count; k++)
                {
                    Assert.Equal(data.Labels[b.Indices[k]], b.Labels[k]);
                    Assert.Equal(data.Image(b.Indices[k]).ToArray(), b.Images.AsSpan(k * 6, 6).ToArray());
                }
            }
        }
    }

    [Fact]
    public void DropLast_skips_the_partial_batch()
    {
        using var loader = new BatchLoader(Numbered(103), 10, seed: 1, dropLast: true);
        Assert.Equal(10, loader.BatchesPerEpoch);
        Assert.Equal(100, loader.SamplesPerEpoch);
        List<Snapshot> batches = Collect(loader, 2);
        Assert.Equal(10, batches.Count);
        Assert.All(batches, b => Assert.Equal(10, b.Count));
        Assert.Equal(loader.Order(2).Take(100), batches.SelectMany(b => b.Indices));
    }

    [Fact]
    public void Batch_larger_than_the_dataset_gives_one_batch()
    {
        using var loader = new BatchLoader(Numbered(5), 64, seed: 1);
        Snapshot only = Assert.Single(Collect(loader, 0));
        Assert.Equal(5, only.Count);
        using var dropping = new BatchLoader(Numbered(5), 64, seed: 1, dropLast: true);
        Assert.Empty(Collect(dropping, 0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Background_loading_gives_the_same_batches_as_synchronous_loading(int prefetch)
    {
        Dataset data = Numbered(257);
        // Perturb the timing on both sides: it must not matter.
        static void jitter(Batch b)
        {
            if ((b.Index * 7 + b.Epoch) % 5 == 0)
                Thread.Sleep(1);
        }
        using var sync = new BatchLoader(data, 16, seed: 99, prefetch: 0, prepare: jitter);
        using var background = new BatchLoader(data, 16, seed: 99, prefetch: prefetch, prepare: jitter);
        for (int epoch = 0; epoch < 4; epoch++)
        {
            List<Snapshot> expected = Collect(sync, epoch);
            var actual = new List<Snapshot>();
            foreach (Batch b in background.Epoch(epoch))
            {
                actual.Add(Snapshot.Of(b));
                if (b.Index % 3 == 0)
                    Thread.Sleep(2);
            }
            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
                Assert.True(expected[i].Same(actual[i]), $"epoch {epoch}, batch {i} differs");
        }
    }

    [Fact]
    public void Batches_come_from_a_pool_of_prefetch_plus_one_buffers()
    {
        using var loader = new BatchLoader(Numbered(500), 10, seed: 3, prefetch: 2);
        var seen = new HashSet<Batch>(ReferenceEqualityComparer.Instance);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            foreach (Batch b in loader.Epoch(epoch))
                seen.Add(b);
        }
        Assert.InRange(seen.Count, 1, 3);
    }

    [Fact]
    public void Steady_state_batches_allocate_nothing_on_either_thread()
    {
        const int batches = 400, warmUp = 10;
        long[] loaderThread = new long[batches];
        using var loader = new BatchLoader(Numbered(batches * 8), 8, seed: 11, prefetch: 2,
            prepare: b => loaderThread[b.Index] = GC.GetAllocatedBytesForCurrentThread());
        long consumerStart = 0, consumerEnd = 0;
        float checksum = 0;
        using (IEnumerator<Batch> e = loader.Epoch(0).GetEnumerator())
        {
            int n = 0;
            while (e.MoveNext())
            {
                Batch b = e.Current;
                checksum += b.Images[0] + b.Labels[0];
                if (++n == warmUp)
                    consumerStart = GC.GetAllocatedBytesForCurrentThread();
            }
            consumerEnd = GC.GetAllocatedBytesForCurrentThread();
            Assert.Equal(batches, n);
        }
        Assert.True(checksum > 0);
        Assert.Equal(0, consumerEnd - consumerStart);
        Assert.Equal(0, loaderThread[batches - 1] - loaderThread[warmUp]);
    }

    [Fact]
    public void Synchronous_batches_allocate_nothing_either()
    {
        using var loader = new BatchLoader(Numbered(2000), 10, seed: 11, prefetch: 0);
        using IEnumerator<Batch> e = loader.Epoch(0).GetEnumerator();
        for (int i = 0; i < 10; i++)
            Assert.True(e.MoveNext());
        long before = GC.GetAllocatedBytesForCurrentThread();
        while (e.MoveNext())
        {
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Cancellation_stops_a_waiting_consumer()
    {
        // A slow producer, so the consumer is waiting for the next batch when the token fires; the
        // token fires from the consumer's own loop, so the test does not depend on timing.
        using var loader = new BatchLoader(Numbered(1000), 10, seed: 1, prefetch: 2, prepare: _ => Thread.Sleep(20));
        using var cts = new CancellationTokenSource();
        int received = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (Batch b in loader.Epoch(0, cts.Token))
            {
                if (++received == 3)
                    cts.Cancel();
            }
        });
        Assert.Equal(3, received);
        // The loader is usable afterwards, from the start of an epoch.
        Assert.Equal(loader.Order(1).Take(10), loader.Epoch(1).First().Indices.ToArray());
    }

    [Fact]
    public void Cancellation_stops_a_busy_consumer_at_its_next_request()
    {
        using var loader = new BatchLoader(Numbered(1000), 10, seed: 1);
        using var cts = new CancellationTokenSource();
        int received = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (Batch b in loader.Epoch(0, cts.Token))
            {
                if (++received == 5)
                    cts.Cancel();
            }
        });
        Assert.Equal(5, received);
        Assert.ThrowsAny<OperationCanceledException>(() => loader.Epoch(1, cts.Token).First());
        Assert.Equal(100, loader.Epoch(2).Count());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void An_exception_while_preparing_reaches_the_consumer_after_the_earlier_batches(int prefetch)
    {
        using var loader = new BatchLoader(Numbered(100), 10, seed: 1, prefetch: prefetch, prepare: b =>
        {
            if (b.Epoch == 0 && b.Index == 4)
                throw new FormatException("augmentation failed on batch 4");
        });
        var received = new List<int>();
        var e = Assert.Throws<FormatException>(() =>
        {
            foreach (Batch b in loader.Epoch(0))
                received.Add(b.Index);
        });
        Assert.Equal("augmentation failed on batch 4", e.Message);
        Assert.Equal([0, 1, 2, 3], received);
        // The next epoch runs normally.
        Assert.Equal(10, loader.Epoch(1).Count());
    }

    [Fact]
    public void Breaking_out_of_an_epoch_releases_the_buffers()
    {
        using var loader = new BatchLoader(Numbered(100), 10, seed: 1, prefetch: 2);
        foreach (Batch b in loader.Epoch(0))
        {
            if (b.Index == 1)
                break;
        }
        Assert.Equal(loader.Order(0), Collect(loader, 0).SelectMany(b => b.Indices));
    }

    [Fact]
    public void Only_one_epoch_at_a_time()
    {
        using var loader = new BatchLoader(Numbered(100), 10, seed: 1);
        using IEnumerator<Batch> first = loader.Epoch(0).GetEnumerator();
        Assert.True(first.MoveNext());
        Assert.Throws<InvalidOperationException>(() => loader.Epoch(1).First());
        first.Dispose();
        Assert.Equal(10, loader.Epoch(1).Count());
    }

    [Fact]
    public void Dispose_stops_the_loader_thread_and_the_consumer()
    {
        var loader = new BatchLoader(Numbered(1000), 10, seed: 1, prefetch: 2, prepare: _ => Thread.Sleep(5));
        int received = 0;
        Assert.Throws<ObjectDisposedException>(() =>
        {
            foreach (Batch b in loader.Epoch(0))
            {
                // Disposed from the consumer's own loop, so the outcome does not depend on timing.
                if (++received == 3)
                    loader.Dispose();
            }
        });
        Assert.Equal(3, received);
        loader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => loader.Epoch(1));
    }

    [Fact]
    public void Dispose_without_an_epoch_or_twice_is_fine()
    {
        var idle = new BatchLoader(Numbered(10), 3, seed: 1);
        idle.Dispose();
        idle.Dispose();
        var used = new BatchLoader(Numbered(10), 3, seed: 1);
        Assert.Equal(4, used.Epoch(0).Count());
        used.Dispose();
    }

    [Fact]
    public void Arguments_are_checked()
    {
        Dataset data = Numbered(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchLoader(data, 0, seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchLoader(data, 1, seed: 1, prefetch: -1));
        using var loader = new BatchLoader(data, 3, seed: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.Epoch(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.Order(-1));
        Assert.Throws<ArgumentException>(() => loader.Order(0, new int[9]));
    }

    [Fact]
    public void Embedded_fashion_mnist_feeds_lenet5_sized_batches()
    {
        var (train, _) = FashionMnist.LoadEmbedded(FashionMnist.LeNet5Preprocessing);
        using var loader = new BatchLoader(train, 64, seed: 42);
        int samples = 0;
        int[] perClass = new int[10];
        foreach (Batch b in loader.Epoch(0))
        {
            Assert.Equal(new Shape(1, 32, 32), b.SampleShape);
            Assert.Equal(b.Count * 1024, b.Images.Length);
            foreach (int label in b.Labels)
                perClass[label]++;
            samples += b.Count;
        }
        Assert.Equal(4000, samples);
        Assert.All(perClass, n => Assert.Equal(400, n));
        Assert.Equal(63, loader.BatchesPerEpoch);
    }
}
