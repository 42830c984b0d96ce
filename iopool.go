package bittern

import "sync"

// ioPool runs disk I/O and hashing for every torrent of a session on a fixed
// number of goroutines. Jobs never wait for a torrent's owner goroutine (they
// post their results with inbox.post, which does not block), so an owner may
// block in submit while the queue is full without risking a deadlock.
type ioPool struct {
	jobs chan func()
	wg   sync.WaitGroup
}

// ioQueueLen is the capacity of the job queue.
const ioQueueLen = 1024

func newIOPool(workers int) *ioPool {
	p := &ioPool{jobs: make(chan func(), ioQueueLen)}
	p.wg.Add(workers)
	for range workers {
		go func() {
			defer p.wg.Done()
			for job := range p.jobs {
				job()
			}
		}()
	}
	return p
}

// submit queues job. It must not be called after close.
func (p *ioPool) submit(job func()) { p.jobs <- job }

// close stops the workers once the queued jobs are done and waits for them.
func (p *ioPool) close() {
	close(p.jobs)
	p.wg.Wait()
}

// inbox is a torrent's queue of closures to run on its owner goroutine:
// results of I/O jobs and API calls. post never blocks.
type inbox struct {
	mu     sync.Mutex
	items  []func()
	notify chan struct{}
}

func newInbox() *inbox { return &inbox{notify: make(chan struct{}, 1)} }

func (b *inbox) post(f func()) {
	b.mu.Lock()
	b.items = append(b.items, f)
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// take returns the queued closures, handing dst's storage back for reuse.
func (b *inbox) take(dst []func()) []func() {
	b.mu.Lock()
	items := b.items
	b.items = dst[:0]
	b.mu.Unlock()
	return items
}
