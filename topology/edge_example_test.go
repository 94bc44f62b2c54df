package topology_test

import (
	"fmt"
	"time"

	"github.com/gradmesh/gradmesh/topology"
)

// ExampleGenerateEdge generates each preset with seed 1, prints its summary,
// and lets its devices move for ten minutes.
func ExampleGenerateEdge() {
	for _, name := range topology.EdgePresetNames() {
		cfg, err := topology.EdgePreset(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		en, err := topology.GenerateEdge(cfg, 1)
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
		fmt.Printf("  %d handovers in %v\n", handovers, en.Elapsed())
	}
	// Output:
	// edge network "urban-6g": 1000 devices on 150 of 150 sites, 6 hubs, 6×6 km
	//   6g-handset     500 devices  air RTT 583µs     up    83.2  down   416.1 Mbit/s (medians)
	//   6g-vehicle     150 devices  air RTT 516µs     up    43.9  down   263.4 Mbit/s (medians)
	//   5g-handset     250 devices  air RTT 2.496ms   up    20.7  down   124.1 Mbit/s (medians)
	//   6g-fixed       100 devices  air RTT 300µs     up   175.6  down   877.9 Mbit/s (medians)
	//   RTT min 288µs  p50 1.96ms  p90 4.53ms  p99 6.69ms  max 8.477ms; 0.9% of pairs share a site
	//   2771 handovers in 10m0s
	// edge network "rural-5g": 300 devices on 25 of 25 sites, 3 hubs, 40×40 km
	//   5g-handset     135 devices  air RTT 2.371ms   up    14.8  down    74.0 Mbit/s (medians)
	//   lte-handset     75 devices  air RTT 10.963ms  up     3.9  down    19.7 Mbit/s (medians)
	//   5g-vehicle      30 devices  air RTT 2.538ms   up     6.9  down    41.6 Mbit/s (medians)
	//   5g-fwa          60 devices  air RTT 2.749ms   up    27.4  down   182.6 Mbit/s (medians)
	//   RTT min 2.229ms  p50 7.811ms  p90 18.184ms  p99 26.955ms  max 31.416ms; 5.6% of pairs share a site
	//   49 handovers in 10m0s
}
