package mse_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/bittern/bittern/peerwire"
	"github.com/bittern/bittern/peerwire/mse"
)

func Example() {
	infoHash := [20]byte{1, 2, 3}
	initiator, receiver := net.Pipe()
	defer initiator.Close()
	defer receiver.Close()

	// The receiver serves several torrents.
	var keys mse.SKeys
	keys.Add([20]byte{9})
	keys.Add(infoHash)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := mse.Accept(context.Background(), receiver, &keys, nil)
		if err != nil {
			fmt.Println("accept:", err)
			return
		}
		skey, _ := c.SKey()
		theirs, err := peerwire.ReadHandshake(c) // the initial payload
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("receiver: %v for %x, handshake for %x\n", c.Method(), skey[:3], theirs.InfoHash[:3])
		c.Write([]byte("hello"))
	}()

	ours := peerwire.Handshake{Reserved: peerwire.DefaultReserved, InfoHash: infoHash}
	c, err := mse.Initiate(context.Background(), initiator, infoHash, peerwire.AppendHandshake(nil, ours), nil)
	if err != nil {
		fmt.Println("initiate:", err)
		return
	}
	buf := make([]byte, 5)
	io.ReadFull(c, buf)
	<-done
	fmt.Printf("initiator: %v, read %q\n", c.Method(), buf)
	// Output:
	// receiver: rc4 for 010203, handshake for 010203
	// initiator: rc4, read "hello"
}
