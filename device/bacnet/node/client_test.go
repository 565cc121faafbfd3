package node

import (
	"math/rand/v2"
	"testing"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// rpmCost sizes a ReadPropertyMultiple request exactly as AppendRPM
// encodes it, whatever the objects, properties and indexes.
func TestRPMCostIsTheEncodedSize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var refs []stack.PropertyRef
		for range 1 + r.IntN(80) {
			ref := stack.Ref(stack.ObjectID{Type: stack.ObjectType(r.IntN(60)), Instance: uint32(r.IntN(1 << 22))}, stack.PropertyID(r.IntN(5000)))
			if len(refs) > 0 && r.IntN(3) > 0 {
				ref.Object = refs[len(refs)-1].Object // several properties of one object
			}
			if r.IntN(4) == 0 {
				ref.Index = uint32(r.IntN(70000))
			}
			refs = append(refs, ref)
		}
		rs := make([]stack.ReadResult, len(refs))
		size := 0
		for i := range refs {
			rs[i].PropertyRef = refs[i]
			prop, spec := rpmCost(refs[i])
			if i == 0 || refs[i].Object != refs[i-1].Object {
				prop += spec
			}
			size += prop
		}
		b, err := stack.AppendRPM(nil, specsOf(rs))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != size {
			t.Fatalf("%d refs: sized %d, encoded %d", len(refs), size, len(b))
		}
	}
}
