import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/s3-server.mjs', import.meta.url));

/** An s3rver on 127.0.0.1 in a child process (scripts/s3-server.mjs), for the s3 tests and the --s3 benchmark. */
export class LocalS3 {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The credentials s3rver knows, as the AWS environment variables. */
  static readonly env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

  /** Serves `bucket` from the folder `directory`, on `port` (0: a free one). */
  static async start(directory: string, bucket: string, port = 0): Promise<LocalS3> {
    const child = spawn(process.execPath, [SCRIPT, directory, bucket, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (text: Buffer) => resolve(text.toString()));
      child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
    });
    return new LocalS3(child, (JSON.parse(line) as { port: number }).port);
  }

  /** Kills it at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}
