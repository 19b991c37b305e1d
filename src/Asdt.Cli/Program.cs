return Asdt.Cli.AsdtCommandLine.Run(args);
