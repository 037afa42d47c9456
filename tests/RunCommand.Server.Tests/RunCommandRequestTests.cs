using System.Text.Json;
using RunCommand.Server.Arm;

namespace RunCommand.Server.Tests;

public sealed class RunCommandRequestTests
{
    private static RunCommandRequest Parse(string json, bool isPatch = false)
    {
        using var document = JsonDocument.Parse(json);
        return RunCommandRequest.Parse(document.RootElement, isPatch);
    }

    private static string[] Targets(RunCommandRequest request) => request.Errors.Select(e => e.Target ?? "").ToArray();

    [Fact]
    public void Parse_ValidBody_HasNoErrorsAndKeepsEveryField()
    {
        var request = Parse("""
            {"location":"local","tags":{"team":"db"},"properties":{"source":{"script":"echo hi"},
             "parameters":[{"name":"A","value":"1"},{"name":"","value":"pos"}],
             "protectedParameters":[{"name":"S","value":"secret"}],
             "asyncExecution":true,"runAsUser":"alice","runAsPassword":"pw","timeoutInSeconds":30,
             "outputBlobUri":"https://acct.blob.core.windows.net/c/out?sig=x","treatFailureAsDeploymentFailure":true}}
            """);

        Assert.Empty(request.Errors);
        var (spec, secrets) = request.Apply(null, null);
        Assert.Equal("echo hi", spec.Script);
        Assert.Equal(["A", ""], spec.Parameters.Select(p => p.Name));
        Assert.True(spec.AsyncExecution);
        Assert.Equal(30, spec.TimeoutInSeconds);
        Assert.Equal("alice", spec.RunAsUser);
        Assert.Equal("pw", secrets.RunAsPassword);
        Assert.Equal("secret", Assert.Single(secrets.ProtectedParameters).Value);
        Assert.Equal(1, spec.ProtectedParameterCount);
    }

    [Fact]
    public void Apply_ManagedIdentities_AreKeptInTheSpec()
    {
        var (spec, _) = Parse("""
            {"location":"local","properties":{"source":{"scriptUri":"https://h/s.sh","scriptUriManagedIdentity":{}},
             "outputBlobUri":"https://h/c/o","outputBlobManagedIdentity":{"clientId":"c1"},
             "errorBlobUri":"https://h/c/e","errorBlobManagedIdentity":{"objectId":"o1"}}}
            """).Apply(null, null);

        Assert.Equal(new RunCommand.Contracts.Arm.RunCommandManagedIdentity(), spec.ScriptUriManagedIdentity);
        Assert.Equal("c1", spec.OutputBlobManagedIdentity!.ClientId);
        Assert.Equal("o1", spec.ErrorBlobManagedIdentity!.ObjectId);
    }

    [Theory]
    [InlineData("""{"location":"local","properties":{"source":{"script":"x"},"outputBlobManagedIdentity":"c1"}}""", "properties.outputBlobManagedIdentity")]
    [InlineData("""{"location":"local","properties":{"source":{"script":"x"},"errorBlobManagedIdentity":{"clientId":"a","objectId":"b"}}}""", "properties.errorBlobManagedIdentity")]
    [InlineData("""{"location":"local","properties":{"source":{"script":"x"},"outputBlobManagedIdentity":{"clientId":""}}}""", "properties.outputBlobManagedIdentity.clientId")]
    [InlineData("""{"location":"local","properties":{"source":{"script":"x","scriptUriManagedIdentity":{}}}}""", "properties.source.scriptUriManagedIdentity")]
    public void Parse_BadManagedIdentity_NamesTheField(string json, string target)
    {
        Assert.Contains(target, Targets(Parse(json)));
    }

    [Fact]
    public void Parse_NamelessProtectedParameters_AreKeptInOrder()
    {
        var request = Parse("""
            {"location":"local","properties":{"source":{"script":"x"},
             "protectedParameters":[{"name":"","value":"s1"},{"name":"S","value":"n"},{"value":"s2"}]}}
            """);

        Assert.Empty(request.Errors);
        var (_, secrets) = request.Apply(null, null);
        Assert.Equal([("", "s1"), ("S", "n"), ("", "s2")], secrets.ProtectedParameters.Select(p => (p.Name, p.Value)));
    }

    [Fact]
    public void Apply_BlobUrisWithSas_KeepsUrlsWithoutQueryAndSealsTheQueries()
    {
        var request = Parse("""
            {"location":"local","properties":{"source":{"script":"echo hi"},
             "outputBlobUri":"https://acct.blob.core.windows.net/c/out.log?sv=2021-08-06&sp=racw&sig=abc%3D",
             "errorBlobUri":"https://acct.blob.core.windows.net/c/err.log"}}
            """);

        var (spec, secrets) = request.Apply(null, null);

        Assert.Equal("https://acct.blob.core.windows.net/c/out.log", spec.OutputBlobUri);
        Assert.Equal("sv=2021-08-06&sp=racw&sig=abc%3D", secrets.OutputBlobSas);
        Assert.Equal("https://acct.blob.core.windows.net/c/err.log", spec.ErrorBlobUri);
        Assert.Null(secrets.ErrorBlobSas);
        Assert.Equal("https://acct.blob.core.windows.net/c/out.log?sv=2021-08-06&sp=racw&sig=abc%3D", Secrets.SasUrl.Join(spec.OutputBlobUri, secrets.OutputBlobSas));
    }

    [Fact]
    public void Apply_PatchWithoutBlobUris_KeepsStoredUrlAndSas()
    {
        var (spec, secrets) = Parse("""{"location":"local","properties":{"source":{"script":"a"},"outputBlobUri":"https://h/c/o?sig=s"}}""").Apply(null, null);

        var (patched, patchedSecrets) = Parse("""{"properties":{"timeoutInSeconds":5}}""", isPatch: true).Apply(spec, secrets);

        Assert.Equal("https://h/c/o", patched.OutputBlobUri);
        Assert.Equal("sig=s", patchedSecrets.OutputBlobSas);
    }

    [Fact]
    public void Parse_ManyProblems_ReturnsEveryErrorWithItsTarget()
    {
        var request = Parse("""
            {"properties":{"source":{"script":"a","commandId":"b"},"timeoutInSeconds":-1,
             "parameters":[{"name":"1a","value":"x"},{"name":"ok","value":3}],"asyncExecution":"yes",
             "outputBlobUri":"not a url"}}
            """);

        Assert.Equal(
            ["location", "properties.source", "properties.parameters[0].name", "properties.parameters[1].value", "properties.asyncExecution", "properties.timeoutInSeconds", "properties.outputBlobUri"],
            Targets(request));
    }

    [Theory]
    [InlineData("""{"location":"local","properties":{"source":{}}}""", "properties.source")]
    [InlineData("""{"location":"local","properties":{}}""", "properties.source")]
    [InlineData("""{"location":"local"}""", "properties.source")]
    [InlineData("""{"location":"local","properties":{"source":{"script":"x"},"timeoutInSeconds":1.5}}""", "properties.timeoutInSeconds")]
    [InlineData("""{"location":"local","properties":{"source":{"script":"x"},"timeoutInSeconds":"10"}}""", "properties.timeoutInSeconds")]
    [InlineData("""{"location":"local","properties":{"source":{"scriptUri":"ftp://x/y"}}}""", "properties.source.scriptUri")]
    [InlineData("""{"location":"local","properties":{"source":{"script":"x"},"runAsUser":"bad user"}}""", "properties.runAsUser")]
    [InlineData("""{"location":5,"properties":{"source":{"script":"x"}}}""", "location")]
    [InlineData("""{"location":"local","tags":{"a":1},"properties":{"source":{"script":"x"}}}""", "tags.a")]
    [InlineData("""{"location":"local","properties":{"source":{"script":"x"},"protectedParameters":{"name":"a"}}}""", "properties.protectedParameters")]
    public void Parse_InvalidField_NamesTheField(string json, string target)
    {
        Assert.Contains(target, Targets(Parse(json)));
    }

    [Fact]
    public void Parse_WrongTypeOfSecret_DoesNotEchoTheValue()
    {
        var request = Parse("""{"location":"l","properties":{"source":{"script":"x"},"runAsPassword":12345678}}""");

        var error = Assert.Single(request.Errors);
        Assert.DoesNotContain("12345678", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"location":"l","properties":{"source":{"scriptUri":"https://usr:PW-SECRET@h/s.sh"}}}""", "properties.source.scriptUri")]
    [InlineData("""{"location":"l","properties":{"source":{"script":"x"},"outputBlobUri":"https://acct:PW-SECRET@h/c/o"}}""", "properties.outputBlobUri")]
    [InlineData("""{"location":"l","properties":{"source":{"script":"x"},"errorBlobUri":"http://PW-SECRET@h/c/e"}}""", "properties.errorBlobUri")]
    public void Parse_UrlWithCredentialsBeforeItsHost_IsRefusedWithoutEchoingThem(string json, string target)
    {
        // Only a URL's query is sealed; what stands before its host would be stored and shown as it is.
        var error = Assert.Single(Parse(json).Errors);

        Assert.Equal(target, error.Target);
        Assert.DoesNotContain("PW-SECRET", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ProtectedParameterWithAnInvalidName_DoesNotEchoTheName()
    {
        // A client that split a base64 secret at its first '=' sent most of the secret as the name.
        var request = Parse("""{"location":"l","properties":{"source":{"script":"x"},"protectedParameters":[{"name":"Zm9v/SECRET+x","value":"="}]}}""");

        var error = Assert.Single(request.Errors);
        Assert.Equal("properties.protectedParameters[0].name", error.Target);
        Assert.DoesNotContain("SECRET", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_PatchWithTimeoutOnly_KeepsTheRest()
    {
        var put = Parse("""{"location":"l","properties":{"source":{"script":"x"},"parameters":[{"name":"A","value":"1"}],"runAsPassword":"pw"}}""");
        var (spec, secrets) = put.Apply(null, null);

        var patch = Parse("""{"properties":{"timeoutInSeconds":9}}""", isPatch: true);
        var (patched, patchedSecrets) = patch.Apply(spec, secrets);

        Assert.Empty(patch.Errors);
        Assert.Equal("x", patched.Script);
        Assert.Equal(9, patched.TimeoutInSeconds);
        Assert.Equal("A", Assert.Single(patched.Parameters).Name);
        Assert.Equal("pw", patchedSecrets.RunAsPassword);
    }

    [Fact]
    public void Apply_ScriptUriWithSas_KeepsQueryOnlyInSecrets()
    {
        var request = Parse("""
            {"location":"local","properties":{"source":{"scriptUri":"https://acct.blob.core.windows.net/c/s.sh?sv=2024&sig=SECRETSIG"}}}
            """);

        var (spec, secrets) = request.Apply(null, null);

        Assert.Equal("https://acct.blob.core.windows.net/c/s.sh", spec.ScriptUri);
        Assert.Equal("sv=2024&sig=SECRETSIG", secrets.ScriptUriSas);
        Assert.DoesNotContain("SECRETSIG", RunCommand.Storage.StorageFormat.Serialize(spec), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_SourceChangedFromScriptUriToScript_DropsTheStoredQuery()
    {
        var (spec, secrets) = Parse("""{"location":"local","properties":{"source":{"scriptUri":"https://h/s.sh?sig=x"}}}""").Apply(null, null);

        var (patched, patchedSecrets) = Parse("""{"properties":{"source":{"script":"echo"}}}""", isPatch: true).Apply(spec, secrets);

        Assert.Null(patched.ScriptUri);
        Assert.Null(patchedSecrets.ScriptUriSas);
        Assert.True(patchedSecrets.IsEmpty);
    }

    [Fact]
    public void Fingerprint_SameUrlDifferentSas_Differs()
    {
        var protector = new RunCommand.Server.Secrets.SecretProtector(new byte[32]);
        var (specA, secretsA) = Parse("""{"location":"local","properties":{"source":{"scriptUri":"https://h/s.sh?sig=a"}}}""").Apply(null, null);
        var (specB, secretsB) = Parse("""{"location":"local","properties":{"source":{"scriptUri":"https://h/s.sh?sig=b"}}}""").Apply(null, null);
        var specJson = RunCommand.Storage.StorageFormat.Serialize(specA);

        Assert.Equal(specJson, RunCommand.Storage.StorageFormat.Serialize(specB));
        Assert.NotEqual(protector.Fingerprint(specJson, secretsA), protector.Fingerprint(specJson, secretsB));
        Assert.Equal("sig=a", protector.Unseal(protector.Seal(secretsA)).ScriptUriSas);
    }
}
