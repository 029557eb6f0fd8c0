// The board's read API over gRPC-Web, with decoded messages.

import { GrpcWebClient } from '../lib/grpcweb.js';

export class BoardApi {
  constructor(schema, opts = {}) {
    this.schema = schema;
    this.client = new GrpcWebClient('tallyboard.v1.Board', opts);
  }

  async call(method, req = {}, opts) {
    const bytes = await this.client.unary(method, this.schema.encodeRequest(method, req), opts);
    return this.schema.decodeResponse(method, bytes);
  }

  getCheckpoint(opts) {
    return this.call('GetCheckpoint', {}, opts);
  }

  getConsistencyProof(oldSize, newSize, opts) {
    return this.call('GetConsistencyProof', { old_size: oldSize, new_size: newSize }, opts);
  }

  getInclusionProof(index, treeSize, opts) {
    return this.call('GetInclusionProof', { index, tree_size: treeSize }, opts);
  }

  getEntryByLeafHash(leafHash, opts) {
    return this.call('GetEntryByLeafHash', { leaf_hash: leafHash }, opts);
  }

  listEntries(start, limit, opts) {
    return this.call('ListEntries', { start, limit }, opts);
  }

  /** Yields decoded StreamEntriesResponse messages from `start`, forever. */
  async *streamEntries(start, opts) {
    for await (const m of this.client.stream('StreamEntries', this.schema.encodeRequest('StreamEntries', { start }), opts)) {
      yield this.schema.decodeResponse('StreamEntries', m);
    }
  }
}
