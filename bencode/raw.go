package bencode

import "errors"

// RawMessage is a raw encoded bencode value. It implements Marshaler and
// Unmarshaler: decoding keeps the value's bytes exactly as they were (key
// order and all), and encoding writes them back unchanged. Use it to delay
// decoding or to hash a value as it was received, as for an info dictionary.
type RawMessage []byte

// MarshalBencode returns m, which must be one valid bencode value.
func (m RawMessage) MarshalBencode() ([]byte, error) {
	if len(m) == 0 {
		return nil, errors.New("bencode: empty RawMessage")
	}
	return m, nil
}

// UnmarshalBencode sets *m to a copy of data.
func (m *RawMessage) UnmarshalBencode(data []byte) error {
	*m = append((*m)[:0], data...)
	return nil
}
