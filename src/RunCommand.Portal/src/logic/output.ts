// Live output: the API's logs endpoint hands out raw bytes (base64) per stream from an offset; a chunk may end inside
// a UTF-8 character, so each stream keeps one streaming decoder.

export function base64ToBytes(data: string): Uint8Array {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/** Text of one stream, assembled from consecutive chunks. */
export class StreamText {
  private readonly decoder = new TextDecoder("utf-8");
  private text = "";
  private next = 0;

  /** Where to ask for the next bytes. */
  get offset(): number {
    return this.next;
  }

  get value(): string {
    return this.text;
  }

  /** Appends a chunk; a chunk that does not start where the last one ended (a repeat) is ignored. Returns true when text grew. */
  append(chunk: { offset: number; data: string; nextOffset: number }, final = false): boolean {
    if (chunk.offset !== this.next) {
      return false;
    }
    const bytes = base64ToBytes(chunk.data);
    const added = this.decoder.decode(bytes, { stream: !final });
    this.next = chunk.nextOffset;
    this.text += added;
    return added.length > 0;
  }
}

/** Splits output into lines for display; a trailing newline does not make an empty last line. */
export function toLines(text: string): string[] {
  if (text.length === 0) {
    return [];
  }
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") {
    lines.pop();
  }
  return lines;
}
