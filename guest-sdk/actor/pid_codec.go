package actor

// The codec methods `wasmactor gen` expects of a field type from another
// package, so message types can carry PIDs. The form is the usual
// [incarnation, serial] array.

// AppendCBOR appends p as [incarnation, serial].
func (p PID) AppendCBOR(b []byte) []byte { return AppendPID(b, p) }

// ReadCBOR decodes [incarnation, serial] from the start of b and returns
// the rest.
func (p *PID) ReadCBOR(b []byte) ([]byte, error) {
	q, rest, err := ReadPID(b)
	if err != nil {
		return b, err
	}
	*p = q
	return rest, nil
}
