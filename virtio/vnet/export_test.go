package vnet

// ReadBufferSize is the size of the buffer frames are read into.
const ReadBufferSize = rxBufSize
