using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace RunCommand.Agent.Execution;

/// <summary>The outcome of checking a run-as password.</summary>
internal enum PamOutcome
{
    Accepted,

    /// <summary>pam_authenticate refused the password (or the user is unknown to PAM).</summary>
    Rejected,

    /// <summary>The password is right but pam_acct_mgmt refuses the account (expired, locked, password must change).</summary>
    AccountUnusable,

    /// <summary>libpam.so.0 is not installed (Debian package libpam0g).</summary>
    Unavailable,
}

/// <summary>
/// Checks <c>runAsPassword</c> against the system with PAM (service <see cref="ServiceName"/>; without an
/// /etc/pam.d/runcommand file PAM uses /etc/pam.d/other, which on Debian includes common-auth and common-account).
/// The password goes to PAM only through the conversation callback, from unmanaged memory that is zeroed and freed
/// as soon as PAM is done: it never reaches a command line, a file, a log line or an exception message.
/// </summary>
internal static unsafe partial class PamAuthenticator
{
    public const string ServiceName = "runcommand";

    private const string Library = "libpam.so.0";
    private const int PamSuccess = 0;
    private const int PamBufErr = 5;
    private const int PamConvErr = 19;
    private const int PamPromptEchoOff = 1;
    private const int PamSilent = 0x8000;
    private const int PamDisallowNullAuthtok = 0x1;

    /// <summary>Blocking (pam_unix delays a failure by about 2 s): call it off the agent's event loop.</summary>
    public static PamOutcome Check(string user, string password)
    {
        // Linux-PAM frees the responses with free(3): they and the password copy are malloc'd (NativeMemory.Alloc is malloc).
        var passwordBytes = Encoding.UTF8.GetByteCount(password);
        var secret = (byte*)NativeMemory.Alloc((nuint)passwordBytes + 1);
        try
        {
            Encoding.UTF8.GetBytes(password, new Span<byte>(secret, passwordBytes));
            secret[passwordBytes] = 0;
            var conversation = new PamConv { Conv = &Converse, AppData = secret };
            nint handle;
            int status;
            try
            {
                status = PamStart(ServiceName, user, &conversation, &handle);
            }
            catch (DllNotFoundException)
            {
                return PamOutcome.Unavailable;
            }

            if (status != PamSuccess)
            {
                return PamOutcome.Rejected;
            }

            try
            {
                status = PamAuthenticate(handle, PamSilent | PamDisallowNullAuthtok);
                if (status != PamSuccess)
                {
                    return PamOutcome.Rejected;
                }

                status = PamAcctMgmt(handle, PamSilent | PamDisallowNullAuthtok);
                return status == PamSuccess ? PamOutcome.Accepted : PamOutcome.AccountUnusable;
            }
            finally
            {
                _ = PamEnd(handle, status);
            }
        }
        finally
        {
            NativeMemory.Clear(secret, (nuint)passwordBytes + 1);
            NativeMemory.Free(secret);
        }
    }

    /// <summary>
    /// The PAM conversation: answers every hidden prompt with the password, and visible prompts (a module asking
    /// for the user name again) with nothing. Informational and error messages need no answer.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Converse(int count, PamMessage** messages, PamResponse** responses, void* appData)
    {
        if (count <= 0 || count > 32)
        {
            return PamConvErr;
        }

        var answers = (PamResponse*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(PamResponse));
        if (answers is null)
        {
            return PamBufErr;
        }

        var password = (byte*)appData;
        var length = (nuint)MemoryMarshal.CreateReadOnlySpanFromNullTerminated(password).Length;
        for (var i = 0; i < count; i++)
        {
            // Linux-PAM passes an array of pointers (each may point into one block); messages[i] is right either way.
            if (messages[i]->Style == PamPromptEchoOff)
            {
                var copy = (byte*)NativeMemory.Alloc(length + 1);
                NativeMemory.Copy(password, copy, length + 1);
                answers[i].Resp = copy;
            }
        }

        *responses = answers;
        return PamSuccess;
    }

    [LibraryImport(Library, EntryPoint = "pam_start", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int PamStart(string service, string user, PamConv* conversation, nint* handle);

    [LibraryImport(Library, EntryPoint = "pam_authenticate")]
    private static partial int PamAuthenticate(nint handle, int flags);

    [LibraryImport(Library, EntryPoint = "pam_acct_mgmt")]
    private static partial int PamAcctMgmt(nint handle, int flags);

    [LibraryImport(Library, EntryPoint = "pam_end")]
    private static partial int PamEnd(nint handle, int status);

    [StructLayout(LayoutKind.Sequential)]
    private struct PamConv
    {
        public delegate* unmanaged[Cdecl]<int, PamMessage**, PamResponse**, void*, int> Conv;
        public void* AppData;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PamMessage
    {
        public int Style;
        public byte* Msg;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PamResponse
    {
        public byte* Resp;
        public int RetCode;
    }
}
