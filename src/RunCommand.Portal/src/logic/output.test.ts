import { describe, expect, it } from "vitest";
import type { RunCommandLogs } from "../api/types";
import { followOutput } from "./follow";
import { StreamText, toLines } from "./output";

const b64 = (bytes: number[]) => btoa(String.fromCharCode(...bytes));
const utf8 = (s: string) => [...new TextEncoder().encode(s)];

describe("StreamText", () => {
  it("joins a UTF-8 character split across two chunks", () => {
    const euro = utf8("€"); // three bytes
    const s = new StreamText();
    s.append({ offset: 0, data: b64([...utf8("a"), euro[0]!]), nextOffset: 2 });
    expect(s.value).toBe("a");
    s.append({ offset: 2, data: b64(euro.slice(1)), nextOffset: 4 }, true);
    expect(s.value).toBe("a€");
    expect(s.offset).toBe(4);
  });

  it("ignores a chunk that does not continue where the text ends", () => {
    const s = new StreamText();
    s.append({ offset: 0, data: b64(utf8("one\n")), nextOffset: 4 });
    expect(s.append({ offset: 0, data: b64(utf8("one\n")), nextOffset: 4 })).toBe(false);
    expect(s.value).toBe("one\n");
  });
});

describe("toLines", () => {
  it("drops the empty line after a trailing newline", () => {
    expect(toLines("1\n2\n")).toEqual(["1", "2"]);
    expect(toLines("")).toEqual([]);
    expect(toLines("a")).toEqual(["a"]);
  });
});

function logs(executionId: string, finished: boolean, out: [number, string], err: [number, string] = [0, ""]): RunCommandLogs {
  const chunk = ([offset, text]: [number, string]) => ({ offset, data: b64(utf8(text)), nextOffset: offset + utf8(text).length });
  return { executionId, executionState: finished ? "Succeeded" : "Running", finished, stdout: chunk(out), stderr: chunk(err), exitCode: finished ? 0 : undefined };
}

describe("followOutput", () => {
  it("asks from the offsets it got until the execution finished and both streams are drained", async () => {
    const answers = [logs("e1", false, [0, "1\n"]), logs("e1", false, [2, "2\n"], [0, "warn\n"]), logs("e1", true, [4, "3\n"], [5, ""]), logs("e1", true, [6, ""], [5, ""])];
    const asked: [number, number][] = [];
    const updates: string[] = [];
    const final = await followOutput(
      async (so, se) => {
        asked.push([so, se]);
        return answers.shift()!;
      },
      (s) => updates.push(s.stdout),
      new AbortController().signal,
    );
    expect(asked).toEqual([
      [0, 0],
      [2, 0],
      [4, 5],
      [6, 5],
    ]);
    expect(updates).toEqual(["1\n", "1\n2\n", "1\n2\n3\n", "1\n2\n3\n"]);
    expect(final).toMatchObject({ stdout: "1\n2\n3\n", stderr: "warn\n", finished: true, exitCode: 0 });
  });

  it("starts over when the command is re-run (a new execution id)", async () => {
    const answers = [logs("e1", false, [0, "old\n"]), logs("e2", false, [4, ""]), logs("e2", true, [0, "new\n"]), logs("e2", true, [4, ""])];
    const final = await followOutput(async () => answers.shift()!, () => {}, new AbortController().signal);
    expect(final.stdout).toBe("new\n");
    expect(final.executionId).toBe("e2");
  });
});
