// The API's .proto files, bundled as text and parsed at run time, so the page
// never carries a second copy of the API.
import boardProto from '../../../../proto/tallyboard/v1/board.proto';
import entriesProto from '../../../../proto/tallyboard/v1/entries.proto';
import { loadRoot, Schema } from './lib/proto.js';

export function loadSchema() {
  return new Schema(loadRoot(boardProto, entriesProto));
}
