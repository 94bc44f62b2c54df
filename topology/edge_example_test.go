package topology_test

import (
	"fmt"
	"time"

	"github.com/gradmesh/gradmesh/topology"
)

// ExampleGenerateEdge generates the urban 6G preset, prints its summary, and
// lets its devices move for ten minutes.
func ExampleGenerateEdge() {
	en, err := topology.GenerateEdge(topology.EdgeUrban6G(), 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(en.Summary())
	handovers := 0
	for range 60 {
		hs, err := en.Move(10 * time.Second)
		if err != nil {
			fmt.Println(err)
			return
		}
		handovers += len(hs)
	}
	fmt.Printf("%d handovers in %v\n", handovers, en.Elapsed())
	// Output:
	// edge network "urban-6g": 1000 devices on 150 of 150 sites, 6 hubs, 6×6 km
	//   6g-handset     500 devices  air RTT 583µs     up    83.2  down   416.1 Mbit/s (medians)
	//   6g-vehicle     150 devices  air RTT 516µs     up    43.9  down   263.4 Mbit/s (medians)
	//   5g-handset     250 devices  air RTT 2.496ms   up    20.7  down   124.1 Mbit/s (medians)
	//   6g-fixed       100 devices  air RTT 300µs     up   175.6  down   877.9 Mbit/s (medians)
	//   RTT min 288µs  p50 1.96ms  p90 4.53ms  p99 6.69ms  max 8.477ms; 0.9% of pairs share a site
	// 2771 handovers in 10m0s
}
