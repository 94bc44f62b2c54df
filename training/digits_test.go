package training

import "testing"

func TestDigits(t *testing.T) {
	d, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Name != "digits" || d.Len() != 1797 || d.Dim != 64 || d.Shape.String() != "1×8×8" || d.Classes != 10 {
		t.Fatalf("%q: %d samples × %d (%s) in %d classes, want digits: 1797 × 64 (1×8×8) in 10", d.Name, d.Len(), d.Dim, d.Shape, d.Classes)
	}
	for i, v := range d.X {
		if v < 0 || v > 16 || v != float32(int(v)) {
			t.Fatalf("value %d = %v, want an integer in 0..16", i, v)
		}
	}
	for c, n := range d.ClassCounts() {
		if n < 170 || n > 190 {
			t.Errorf("class %d has %d samples, want about 180", c, n)
		}
	}
	if d.Y[0] != 0 || d.Y[1] != 1 || d.Y[2] != 2 {
		t.Errorf("first labels %v, want 0 1 2 as in scikit-learn", d.Y[:3])
	}
	again, err := Digits()
	if err != nil {
		t.Fatal(err)
	}
	again.X[0] = 99
	if d.X[0] == 99 {
		t.Error("Digits returned shared memory; each call should get its own copy")
	}
}
