package peerwire

// flush sends b, built in f.wbuf, with one Write call and keeps the
// (possibly grown) buffer for the next message.
func (f *Framer) flush(b []byte) error {
	f.wbuf = b[:0]
	_, err := f.w.Write(b)
	return err
}

// WriteMessage writes any message with one Write call.
func (f *Framer) WriteMessage(m Message) error {
	if p, ok := m.(*Piece); ok {
		return f.WritePiece(p.Index, p.Begin, p.Block)
	}
	if p, ok := m.(Piece); ok {
		return f.WritePiece(p.Index, p.Begin, p.Block)
	}
	return f.flush(m.AppendTo(f.wbuf[:0]))
}

// WriteKeepAlive writes a keep-alive.
func (f *Framer) WriteKeepAlive() error { return f.flush(KeepAlive{}.AppendTo(f.wbuf[:0])) }

// WriteChoke writes a choke message.
func (f *Framer) WriteChoke() error { return f.flush(Choke{}.AppendTo(f.wbuf[:0])) }

// WriteUnchoke writes an unchoke message.
func (f *Framer) WriteUnchoke() error { return f.flush(Unchoke{}.AppendTo(f.wbuf[:0])) }

// WriteInterested writes an interested message.
func (f *Framer) WriteInterested() error { return f.flush(Interested{}.AppendTo(f.wbuf[:0])) }

// WriteNotInterested writes a not interested message.
func (f *Framer) WriteNotInterested() error {
	return f.flush(NotInterested{}.AppendTo(f.wbuf[:0]))
}

// WriteHave writes a have message.
func (f *Framer) WriteHave(index uint32) error {
	return f.flush(Have{index}.AppendTo(f.wbuf[:0]))
}

// WriteBitfield writes a bitfield message carrying bits.
func (f *Framer) WriteBitfield(bits []byte) error {
	return f.flush(Bitfield{bits}.AppendTo(f.wbuf[:0]))
}

// WriteRequest writes a request message.
func (f *Framer) WriteRequest(index, begin, length uint32) error {
	return f.flush(Request{index, begin, length}.AppendTo(f.wbuf[:0]))
}

// WriteCancel writes a cancel message.
func (f *Framer) WriteCancel(index, begin, length uint32) error {
	return f.flush(Cancel{index, begin, length}.AppendTo(f.wbuf[:0]))
}

// WritePort writes a port message (BEP 5).
func (f *Framer) WritePort(port uint16) error {
	return f.flush(Port{port}.AppendTo(f.wbuf[:0]))
}

// WriteSuggest writes a suggest piece message (BEP 6).
func (f *Framer) WriteSuggest(index uint32) error {
	return f.flush(Suggest{index}.AppendTo(f.wbuf[:0]))
}

// WriteHaveAll writes a have all message (BEP 6).
func (f *Framer) WriteHaveAll() error { return f.flush(HaveAll{}.AppendTo(f.wbuf[:0])) }

// WriteHaveNone writes a have none message (BEP 6).
func (f *Framer) WriteHaveNone() error { return f.flush(HaveNone{}.AppendTo(f.wbuf[:0])) }

// WriteReject writes a reject request message (BEP 6).
func (f *Framer) WriteReject(index, begin, length uint32) error {
	return f.flush(Reject{index, begin, length}.AppendTo(f.wbuf[:0]))
}

// WriteAllowedFast writes an allowed fast message (BEP 6).
func (f *Framer) WriteAllowedFast(index uint32) error {
	return f.flush(AllowedFast{index}.AppendTo(f.wbuf[:0]))
}

// WriteExtended writes a BEP 10 extension message with the given extended
// message ID (0 for the extended handshake) and payload.
func (f *Framer) WriteExtended(extendedID uint8, payload []byte) error {
	return f.flush(Extended{extendedID, payload}.AppendTo(f.wbuf[:0]))
}

// WriteHashRequest writes a BEP 52 hash request.
func (f *Framer) WriteHashRequest(m HashRequest) error { return f.flush(m.AppendTo(f.wbuf[:0])) }

// WriteHashes writes a BEP 52 hashes message.
func (f *Framer) WriteHashes(m Hashes) error { return f.flush(m.AppendTo(f.wbuf[:0])) }

// WriteHashReject writes a BEP 52 hash reject message.
func (f *Framer) WriteHashReject(m HashReject) error { return f.flush(m.AppendTo(f.wbuf[:0])) }

// WritePiece writes a piece message carrying block. On TCP and Unix
// sockets the header and block go out in one writev without copying the
// block; on other writers they are copied into one buffer and written with
// one Write call.
func (f *Framer) WritePiece(index, begin uint32, block []byte) error {
	if !f.writev {
		return f.flush(Piece{index, begin, block}.AppendTo(f.wbuf[:0]))
	}
	h := appendPieceHeader(f.wbuf[:0], index, begin, len(block))
	f.bufArr = [2][]byte{h, block}
	f.bufs = f.bufArr[:]
	_, err := f.bufs.WriteTo(f.w)
	f.bufArr = [2][]byte{}
	return err
}
