package topology

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// peerNames returns the simulator's peer IDs "0".."n-1".
func peerNames(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	return ids
}

// rttTable is an RTT matrix between peer indices, as BuildOverlay reads it.
type rttTable [][]time.Duration

func (r rttTable) at(i, j int) time.Duration { return r[i][j] }

// clusteredRTT places n peers in clusters on a plane 100 ms across (peer i
// in cluster i mod clusters, spread 2 ms around the cluster's centre): the
// shape of edge networks, where a device is a millisecond from its
// neighbours and tens from the next city. RTT is 1 ms plus the distance.
func clusteredRTT(n, clusters int, seed uint64) (rttTable, [][2]float64) {
	rng := seeded(seed)
	centres := make([][2]float64, clusters)
	for c := range centres {
		centres[c] = [2]float64{100 * rng.Float64(), 100 * rng.Float64()}
	}
	pos := make([][2]float64, n)
	for i := range pos {
		c := centres[i%clusters]
		pos[i] = [2]float64{c[0] + 2*rng.NormFloat64(), c[1] + 2*rng.NormFloat64()}
	}
	return rttFromPositions(pos), pos
}

// rttFromPositions gives 1 ms plus the Euclidean distance in ms.
func rttFromPositions(pos [][2]float64) rttTable {
	r := make(rttTable, len(pos))
	for i := range r {
		r[i] = make([]time.Duration, len(pos))
		for j := range r[i] {
			if i != j {
				d := math.Hypot(pos[i][0]-pos[j][0], pos[i][1]-pos[j][1])
				r[i][j] = time.Duration((1 + d) * float64(time.Millisecond))
			}
		}
	}
	return r
}

// planetLab reads the 490-node PlanetLab RTT matrix beside the project,
// unknown entries filled, or skips the test when it is absent.
func planetLab(t testing.TB) *LatencyMatrix {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "data", "rtt", "planetlab-490.tsv")
	if _, err := os.Stat(path); err != nil {
		abs, _ := filepath.Abs(path)
		t.Skipf("PlanetLab RTT matrix not found at %s (%v); it lives in ../shared/data beside the project", abs, err)
	}
	l, err := ReadLatencyMatrix(path)
	if err != nil {
		t.Fatal(err)
	}
	l.FillUnknown()
	return l
}

// latencyTable converts a matrix in ms to an rttTable.
func latencyTable(l *LatencyMatrix) rttTable {
	r := make(rttTable, l.N)
	for i := range r {
		r[i] = make([]time.Duration, l.N)
		for j := range r[i] {
			r[i][j] = time.Duration(l.At(i, j) * float64(time.Millisecond))
		}
	}
	return r
}

// linkIDs returns the IDs of links, sorted.
func linkIDs(ls []Link) []string {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	slices.Sort(ids)
	return ids
}

// candidatesFrom makes candidates "c0".."c(n-1)" with measured RTTs rtt(k).
func candidatesFrom(n int, rtt func(k int) time.Duration) []Candidate {
	cands := make([]Candidate, n)
	for k := range cands {
		d := rtt(k)
		cands[k] = Candidate{ID: "c" + strconv.Itoa(k), EstRTT: d, RTT: d}
	}
	return cands
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
