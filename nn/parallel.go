package nn

import (
	"sync"
	"sync/atomic"
)

// parallelism is how many goroutines one pass of a layer may use. It starts
// at 1: the simulator already runs one model per worker goroutine, one per
// core, and a layer that spread out as well would only make them queue.
// A process that trains one model at a time (a live peer, the centralized
// baseline, a benchmark) raises it to its cores.
var parallelism atomic.Int32

func init() { parallelism.Store(1) }

// SetParallelism lets each pass of a layer run on up to n goroutines (n < 1
// counts as 1) and returns the previous setting. Results do not depend on
// it: layers that split a batch split it the same way for any n, and sum
// the pieces' parameter gradients in the same order (see chunks).
func SetParallelism(n int) int {
	return int(parallelism.Swap(int32(max(1, n))))
}

// Parallelism is the current SetParallelism setting.
func Parallelism() int { return int(parallelism.Load()) }

// span is a run of samples [lo, hi) of a batch.
type span struct{ lo, hi int }

// chunkCols is about how many output positions (samples × positions per
// sample) a chunk of a convolution's batch covers: enough that its matrix
// products are not small ones, few enough that the im2col buffer of one
// chunk stays in cache on layers with many channels.
const chunkCols = 2048

// minChunks is the fewest chunks a batch of at least as many samples splits
// into, so that up to that many goroutines find work on every layer.
const minChunks = 8

// chunks splits n samples of perSample output positions each into runs of
// nearly equal size (they differ by at most one sample). The split depends
// only on n and perSample, never on Parallelism: that is what keeps a
// layer's results the same for any number of goroutines.
func chunks(n, perSample int) []span {
	if n == 0 {
		return nil
	}
	k := max((n*perSample+chunkCols-1)/chunkCols, min(n, minChunks))
	k = min(k, n)
	out := make([]span, k)
	for i := range out {
		out[i] = span{lo: i * n / k, hi: (i + 1) * n / k}
	}
	return out
}

// workersFor is how many goroutines run jobs pieces of work: at most
// Parallelism, at most one per piece. A layer reads it once per pass, sizes
// its per-worker scratch to it and hands it to forEach.
//
// A BLAS that runs each product on threads of its own already fills the
// cores it was given; goroutines calling it side by side would put
// goroutines × threads on them, and its threads spin while they wait. With
// one, chunks run one after another unless the BLAS is down to one thread.
func workersFor(jobs int) int {
	if t, ok := BLAS().(Threaded); ok && t.Threads() > 1 {
		return 1
	}
	return max(1, min(Parallelism(), jobs))
}

// forEach runs do(worker, i) for every i in [0, jobs) on the given number of
// goroutines. worker, below workers, names the goroutine that runs the job,
// so that a job can use per-worker scratch; which worker runs which job
// varies from run to run, so a job's result must not depend on it. A panic
// in a job is raised again in the caller.
func forEach(workers, jobs int, do func(worker, i int)) {
	if workers <= 1 || jobs <= 1 {
		for i := range jobs {
			do(0, i)
		}
		return
	}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		failure any
	)
	for w := range min(workers, jobs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					if failure == nil {
						failure = r
					}
					mu.Unlock()
				}
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= jobs {
					return
				}
				do(w, i)
			}
		}()
	}
	wg.Wait()
	if failure != nil {
		panic(failure)
	}
}

// perWorker returns bufs with at least workers buffers, each of length size
// (grown only when too short).
func perWorker[F Float](bufs [][]F, workers, size int) [][]F {
	for len(bufs) < workers {
		bufs = append(bufs, nil)
	}
	for w := range workers {
		bufs[w] = Grow(bufs[w], size)
	}
	return bufs
}

// sumInto writes the sum of parts (in order, so the same for any number of
// goroutines) into dst. Each part is as long as dst.
func sumInto[F Float](dst []F, parts [][]F) {
	copy(dst, parts[0])
	for _, p := range parts[1:] {
		for i, v := range p[:len(dst)] {
			dst[i] += v
		}
	}
}
