import { SseParser } from '../../services/cli/event-stream';

/** The CLI's reader of GET /v1/events: the text/event-stream rules it relies on, chunk by chunk. */
describe('SseParser', () => {
  const feed = (chunks: string[]) => {
    const parser = new SseParser();
    const events = chunks.flatMap((chunk) => parser.push(chunk));
    return { parser, events };
  };

  it('reads events, their names, retry and comments, whatever the chunking', () => {
    const text = 'retry: 2000\n\n: keep-alive\n\nevent: task\ndata: {"id":"a"}\n\ndata: plain\n\n';
    const whole = feed([text]);
    expect(whole.events).toEqual([
      { event: 'task', data: '{"id":"a"}' },
      { event: 'message', data: 'plain' },
    ]);
    expect(whole.parser.retryMs).toBe(2000);
    // One character at a time: the same events.
    expect(feed([...text]).events).toEqual(whole.events);
  });

  it('ends lines at CRLF, CR or LF, a CRLF split across chunks included', () => {
    expect(feed(['event: a\r', '\ndata: 1\r', '\n\r', '\n']).events).toEqual([{ event: 'a', data: '1' }]);
    // A CR last in a chunk may be half a CRLF: the event it ends waits for the next chunk.
    expect(feed(['data: 1\rdata: 2\r\r']).events).toEqual([]);
    expect(feed(['data: 1\rdata: 2\r\r', 'data: 3\n\n']).events).toEqual([
      { event: 'message', data: '1\n2' },
      { event: 'message', data: '3' },
    ]);
  });

  it('keeps an unfinished event until its blank line, and ignores a blank line after no data', () => {
    const { parser, events } = feed(['event: task\ndata: {"id"', ':"b"}\n']);
    expect(events).toEqual([]);
    expect(parser.push('\n\n\n')).toEqual([{ event: 'task', data: '{"id":"b"}' }]);
    expect(feed(['event: lonely\n\n']).events).toEqual([]);
  });

  it('takes only digits as retry, and a field without a colon as empty', () => {
    const { parser, events } = feed(['retry: soon\n\ndata\n\n']);
    expect(parser.retryMs).toBeUndefined();
    expect(events).toEqual([{ event: 'message', data: '' }]);
  });
});
