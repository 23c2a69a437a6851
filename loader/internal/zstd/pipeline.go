package zstd

// Decoding a block splits into two halves: parsing it (literals,
// tables, the sequences bitstream, repeat offsets), which depends only on
// the input, and carrying it out (copying literals and matches), which
// writes the output. Once a frame has made pipeMin bytes, or says it
// will, the two run on two goroutines: the decoder parses blocks into
// work items and an executor writes them, in order. Below that, the
// goroutine and its channels would cost more than they save, so the
// decoder carries each block out itself.

// pipeMin is the output of a frame from which on it is decoded in two
// goroutines; a variable, so that tests can exercise both ways.
var pipeMin = 1 << 20

// pipeDepth is how many work items there are: one parsed while one is
// carried out, and one to spare for the unevenness of blocks.
const pipeDepth = 3

// pipeline is the running executor: parsed items go to it through todo,
// and come back through free once written.
type pipeline struct {
	todo, free chan *work
	done       chan struct{} // closed when the executor has stopped
}

// next returns a work item to parse a block into.
func (d *decoder) next() *work {
	if d.pipe != nil {
		return <-d.pipe.free
	}
	if d.items[0] == nil {
		d.items[0] = new(work)
	}
	return d.items[0]
}

// submit carries w out: now, or on the executor.
func (d *decoder) submit(w *work) {
	if d.pipe != nil {
		d.pipe.todo <- w
		return
	}
	d.exec(w)
}

// start starts the executor. From then on, until stop, it alone touches
// d.out.
func (d *decoder) start() {
	p := &pipeline{
		todo: make(chan *work, pipeDepth),
		free: make(chan *work, pipeDepth),
		done: make(chan struct{}),
	}
	for i, w := range d.items {
		if w == nil {
			w = new(work)
			d.items[i] = w
		}
		p.free <- w
	}
	go func() {
		defer close(p.done)
		for w := range p.todo {
			d.exec(w)
			p.free <- w
		}
	}()
	d.pipe = p
}

// stop waits for the executor to write what it was given and end, so
// that d.out is the decoder's again. The executor cannot fail, since the
// decoder checked every item, so on an error too it is only a few blocks
// from done.
func (d *decoder) stop() {
	if d.pipe == nil {
		return
	}
	close(d.pipe.todo)
	<-d.pipe.done
	d.pipe = nil
}
