import { decodeValue, valueToText } from './values.js';
import type { BinXmlSink, ResolvedAttribute } from './walk.js';

const enum State { StartTagOpen, HasText, HasChildren, Repeated }

/** Escapes text as evtxexport does in element content: &, < and >. */
export function escapeText(s: string): string {
  if (!/[&<>]/.test(s)) return s;
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(s: string): string {
  if (!/[&<>"]/.test(s)) return s;
  return escapeText(s).replace(/"/g, '&quot;');
}

/**
 * Renders a record as the XML Event Viewer exports and `evtxexport -f xml` prints: two-space
 * indentation, empty elements self-closed, GUIDs in braces, hex integers zero-padded, times to 100 ns.
 */
export class XmlSink implements BinXmlSink {
  private out = '';
  private readonly names: string[] = [];
  private readonly states: State[] = [];
  /** Each open element's start tag, to repeat it for array values. */
  private readonly tags: string[] = [];

  constructor(private readonly buf: Buffer) {}

  /** The XML rendered so far; a complete document once the walk is over. */
  toString(): string {
    return this.out;
  }

  open(name: string, attrs: readonly ResolvedAttribute[]): void {
    this.beginChild();
    let tag = '  '.repeat(this.names.length) + '<' + name;
    for (const a of attrs) {
      const v = a.text !== undefined ? a.text : this.valueText(a.type, a.off, a.size);
      tag += ' ' + a.name + '="' + escapeAttribute(v) + '"';
    }
    this.out += tag;
    this.names.push(name);
    this.states.push(State.StartTagOpen);
    this.tags.push(tag);
  }

  close(): void {
    const name = this.names.pop()!;
    const state = this.states.pop()!;
    this.tags.pop();
    if (state === State.Repeated) return;
    if (state === State.StartTagOpen) this.out += '/>\n';
    else if (state === State.HasText) this.out += '</' + name + '>\n';
    else this.out += '  '.repeat(this.names.length) + '</' + name + '>\n';
  }

  value(type: number, off: number, size: number): void {
    const v = decodeValue(this.buf, type, off, size, 'xml');
    const i = this.states.length - 1;
    if (Array.isArray(v) && i >= 0 && this.states[i] === State.StartTagOpen) {
      // An array substitution repeats its element once per item, as Event Viewer shows it.
      const end = '</' + this.names[i] + '>\n';
      if (v.length === 0) this.out += '/>\n';
      v.forEach((item, n) => {
        const text = escapeText(valueToText(item));
        this.out += (n > 0 ? this.tags[i] : '') + (text === '' ? '/>\n' : '>' + text + end);
      });
      this.states[i] = State.Repeated;
      return;
    }
    const text = valueToText(v);
    // Event Viewer shows a value that is only a line break as empty (EVTX format notes); so do we.
    if (text === '\n' || text === '\r\n') return;
    this.addText(escapeText(text));
  }

  valueText(type: number, off: number, size: number): string {
    return valueToText(decodeValue(this.buf, type, off, size, 'xml'));
  }

  text(text: string): void {
    this.addText(escapeText(text));
  }

  entity(name: string): void {
    this.addText('&' + name + ';');
  }

  charRef(code: number): void {
    this.addText('&#' + code + ';');
  }

  cdata(text: string): void {
    this.addText('<![CDATA[' + text + ']]>');
  }

  pi(target: string, data: string): void {
    this.beginChild();
    this.out += '  '.repeat(this.names.length) + '<?' + target + ' ' + data + '?>\n';
  }

  private beginChild(): void {
    const i = this.states.length - 1;
    if (i < 0) return;
    if (this.states[i] === State.StartTagOpen) this.out += '>\n';
    else if (this.states[i] === State.HasText) this.out += '\n';
    this.states[i] = State.HasChildren;
  }

  private addText(s: string): void {
    const i = this.states.length - 1;
    // Empty text leaves an element empty: it is still written self-closed.
    if (i < 0 || s === '') return;
    if (this.states[i] === State.StartTagOpen) {
      this.out += '>';
      this.states[i] = State.HasText;
    }
    this.out += s;
  }
}
