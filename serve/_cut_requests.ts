// The requests the server's stop answered itself (a 503, its own access line): their handlers go
// on unheard, and must not log a second line when they end. Private to serve/.

/** Requests answered by the stop, not by their handler. */
export const cutRequests: WeakSet<Request> = new WeakSet();
