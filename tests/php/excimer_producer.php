<?php
/**
 * A real PHP producer for arclamp's stream mode (tests/it/php_producer.rs runs it).
 *
 * It profiles itself with php-excimer as MediaWiki does in production (wmf-config's
 * profiler.php: an ExcimerProfiler with a flush callback that formats the log with
 * formatCollapsed() and hands the lines to Profiler::excimerFlushToArclamp), and sends
 * each flush to a Redis Stream with XADD, one entry `data => lines`, where MediaWiki
 * PUBLISHes each line. The profiled work is a few MediaWiki-shaped call paths, so the
 * stacks are Excimer's own output, not strings a test made up.
 *
 * On success it prints one JSON object to stdout: every entry it added (the id Redis gave
 * it and the data, byte for byte) and the stacks and counts summed over all of them, as
 * arclamp stores them (bytes outside printable ASCII become "?"). Errors go to stderr
 * with exit status 1: a test must never mistake a failed producer for an empty one.
 *
 * Usage: php excimer_producer.php --port=PORT [--host=127.0.0.1] [--stream=excimer]
 *            [--flushes=N] [--duration=SECONDS] [--period=0.001] [--event=real|cpu]
 *            [--max-samples=5] [--id-start-ms=MS [--id-step-ms=100]] [--maxlen=400000]
 *
 * --flushes and --duration bound the run (whichever comes first; 2 s when neither is
 * given). Without --id-start-ms entries get `*` ids (the Redis server's clock, as in
 * production); with it, entry k gets id `START + k * STEP` ms, so a test can put them in
 * hours that are already over and that arclamp may therefore seal at once.
 */

declare( strict_types = 1 );

namespace Wikimedia\Rdbms {
	class Database {
		/** Time spent waiting, not computing: wall-clock sampling sees it, CPU sampling does not. */
		public function query( string $sql ): int {
			usleep( 100 );
			return crc32( $sql );
		}
	}
}

namespace {

	class PPFrame {
		/** Recursion, as template expansion has: the same frames repeated in one stack. */
		public function expand( string $text, int $depth ): string {
			if ( $depth > 0 ) {
				return $this->expand( $text, $depth - 1 );
			}
			return Parser::braceSubstitution( $text );
		}
	}

	class Parser {
		public function parse( string $text, int $i ): string {
			$html = $this->internalParse( $text, $i );
			return Sanitizer::removeHTMLtags( $html );
		}

		private function internalParse( string $text, int $i ): string {
			// Depth 1 to 3: three distinct stacks through the same functions.
			return ( new PPFrame() )->expand( $text, 1 + $i % 3 );
		}

		public static function braceSubstitution( string $text ): string {
			$out = '';
			for ( $k = 0; $k < 400; $k++ ) {
				$out .= md5( $text . $k )[0];
			}
			return $out;
		}
	}

	class Sanitizer {
		public static function removeHTMLtags( string $html ): string {
			for ( $k = 0; $k < 30; $k++ ) {
				$html = preg_replace( '/[<>&"]/', '', $html . "<b>$k</b>" );
			}
			return $html;
		}
	}

	class LanguageConverter {
		/**
		 * A name outside ASCII: PHP allows UTF-8 identifiers and Excimer passes their bytes
		 * through, and arclamp stores each byte outside printable ASCII as "?", so this frame
		 * is stored as `LanguageConverter::translit??rer`.
		 */
		public static function translitérer( string $text ): string {
			$out = $text;
			for ( $k = 0; $k < 300; $k++ ) {
				$out = strtr( $out, 'abcdefghij', 'jihgfedcba' );
			}
			return $out;
		}
	}

	class Article {
		public function __construct( private string $title ) {
		}

		public function view( int $i ): string {
			$db = new Wikimedia\Rdbms\Database();
			$db->query( "SELECT page_latest FROM page WHERE page_title = '{$this->title}'" );
			$html = ( new Parser() )->parse( "{{Infobox|{$this->title}}}", $i );
			if ( $i % 4 === 0 ) {
				$html = LanguageConverter::translitérer( $html );
			}
			return $html;
		}
	}

	class DeferredUpdates {
		/** @var callable[] */
		private static array $queue = [];

		public static function addCallableUpdate( callable $update ): void {
			self::$queue[] = $update;
		}

		/** Runs closures: Excimer names them `{closure:FILE(LINE)}`. */
		public static function doUpdates(): void {
			while ( self::$queue ) {
				( array_shift( self::$queue ) )();
			}
		}
	}

	class MediaWiki {
		public static function run( int $i ): void {
			( new Article( "Page_$i" ) )->view( $i );
			DeferredUpdates::addCallableUpdate( static function () use ( $i ) {
				$x = 0.0;
				for ( $k = 0; $k < 3000; $k++ ) {
					$x += sqrt( $k + $i );
				}
			} );
			DeferredUpdates::doUpdates();
		}
	}

	/** Print to stderr and exit 1. */
	function fail( string $message ): never {
		fwrite( STDERR, "excimer_producer: $message\n" );
		exit( 1 );
	}

	/**
	 * What arclamp stores for one collapsed line (src/ingest/sample.rs): bytes outside
	 * printable ASCII become "?", the count follows the last space, and spaces before the
	 * count are not part of the stack.
	 *
	 * @return array{0: string, 1: int} stack and count
	 */
	function arclampSample( string $line ): array {
		$line = preg_replace( '/[^\x20-\x7e]/', '?', $line );
		$space = strrpos( $line, ' ' );
		$count = $space === false ? '' : substr( $line, $space + 1 );
		if ( !ctype_digit( $count ) || (int)$count < 1 ) {
			fail( "Excimer wrote a line without a count: " . json_encode( $line ) );
		}
		return [ rtrim( substr( $line, 0, $space ), ' ' ), (int)$count ];
	}

	/**
	 * The lines of one flush, as Profiler::excimerFlushToArclamp prepares them.
	 *
	 * @param string $collapsed ExcimerLog::formatCollapsed()
	 * @param string $firstFrame the entry point's path and ';'
	 * @param array<string, int> $fixes counts of each change made, by name
	 * @return string[]
	 */
	function arclampLines( string $collapsed, string $firstFrame, array &$fixes ): array {
		$lines = [];
		foreach ( explode( "\n", $collapsed ) as $line ) {
			if ( $line === '' ) {
				// formatCollapsed() ends with a line break.
				continue;
			}
			// Excimer before 1.1.0 (Debian 12 ships 1.0.4) starts every line but the first of
			// one formatCollapsed() with ';': it tested whether the whole output, not the line,
			// was still empty. MediaWiki flushes one sample at a time and never sees it; with
			// several, the stack would get an empty root frame, and then the entry point
			// prepended below in front of it, twice in one stack.
			if ( $line[0] === ';' ) {
				$line = substr( $line, 1 );
				$fixes['leading_semicolon_removed']++;
			}
			// As MediaWiki: stacks of 249 frames or more may have lost their first frames to
			// setMaxDepth( 250 ), which a flame graph needs most; they are dropped.
			if ( substr_count( $line, ';' ) + 1 >= 249 ) {
				$fixes['too_deep_dropped']++;
				continue;
			}
			// As MediaWiki: the first frame must be the entry point's file (a destructor's
			// stack lacks it); the ';' avoids matching a longer file name.
			if ( !str_starts_with( $line, $firstFrame ) ) {
				$line = $firstFrame . $line;
				$fixes['first_frame_prepended']++;
			}
			$lines[] = $line;
		}
		return $lines;
	}

	$options = getopt( '', [
		'host:', 'port:', 'stream:', 'flushes:', 'duration:', 'period:', 'event:',
		'max-samples:', 'id-start-ms:', 'id-step-ms:', 'maxlen:',
	] );
	if ( $options === false || !isset( $options['port'] ) ) {
		fail( 'usage: php excimer_producer.php --port=PORT [--host=H] [--stream=KEY] '
			. '[--flushes=N] [--duration=S] [--period=S] [--event=real|cpu] [--max-samples=N] '
			. '[--id-start-ms=MS [--id-step-ms=MS]] [--maxlen=N]' );
	}
	foreach ( [ 'excimer', 'redis' ] as $extension ) {
		if ( !extension_loaded( $extension ) ) {
			fail( "the PHP extension '$extension' is not loaded (Debian: php-$extension)" );
		}
	}
	$host = $options['host'] ?? '127.0.0.1';
	$port = (int)$options['port'];
	$stream = $options['stream'] ?? 'excimer';
	$flushes = (int)( $options['flushes'] ?? 0 );
	$duration = (float)( $options['duration'] ?? ( $flushes > 0 ? 0 : 2 ) );
	$period = (float)( $options['period'] ?? 0.001 );
	$event = $options['event'] ?? 'real';
	$maxSamples = (int)( $options['max-samples'] ?? 5 );
	$idStartMs = isset( $options['id-start-ms'] ) ? (int)$options['id-start-ms'] : null;
	$idStepMs = (int)( $options['id-step-ms'] ?? 100 );
	// MAXLEN ~ 400000, as the README's producer snippet: about 1 GB of entries.
	$maxlen = (int)( $options['maxlen'] ?? 400000 );
	if ( !in_array( $event, [ 'real', 'cpu' ], true ) ) {
		fail( "--event must be real or cpu, not '$event'" );
	}

	// One connection for the whole run. MediaWiki connects in each flush because a web
	// request flushes about once (period 60 s); here a flush comes every few milliseconds.
	$redis = new Redis();
	try {
		$redis->connect( $host, $port, 1.0 );
	} catch ( RedisException $e ) {
		fail( "cannot connect to Redis at $host:$port: " . $e->getMessage() );
	}

	$firstFrame = realpath( $_SERVER['SCRIPT_FILENAME'] ) . ';';
	$sent = [];
	$stacks = [];
	$samples = 0;
	$fixes = [ 'leading_semicolon_removed' => 0, 'too_deep_dropped' => 0, 'first_frame_prepended' => 0 ];
	$flushCount = 0;
	// An exception thrown inside the callback would surface in whatever code the timer
	// interrupted; keep it and stop the run instead.
	$failure = null;

	$profiler = new ExcimerProfiler();
	$profiler->setEventType( $event === 'cpu' ? EXCIMER_CPU : EXCIMER_REAL );
	$profiler->setPeriod( $period );
	$profiler->setMaxDepth( 250 );
	$profiler->setFlushCallback(
		static function ( ExcimerLog $log ) use (
			$redis, $stream, $maxlen, $idStartMs, $idStepMs, $firstFrame,
			&$sent, &$stacks, &$samples, &$fixes, &$flushCount, &$failure
		): void {
			$flushCount++;
			if ( $failure !== null ) {
				return;
			}
			$lines = arclampLines( $log->formatCollapsed(), $firstFrame, $fixes );
			if ( !$lines ) {
				return;
			}
			$data = implode( "\n", $lines );
			$id = $idStartMs === null ? '*' : ( $idStartMs + count( $sent ) * $idStepMs ) . '-*';
			try {
				$added = $redis->xAdd( $stream, $id, [ 'data' => $data ], $maxlen, true );
			} catch ( RedisException $e ) {
				$failure = 'XADD failed: ' . $e->getMessage();
				return;
			}
			if ( !is_string( $added ) ) {
				$failure = "XADD $stream $id failed: " . ( $redis->getLastError() ?? 'no reply' );
				return;
			}
			$sent[] = [ 'id' => $added, 'data' => $data ];
			foreach ( $lines as $line ) {
				[ $stack, $count ] = arclampSample( $line );
				$stacks[$stack] = ( $stacks[$stack] ?? 0 ) + $count;
				$samples += $count;
			}
		},
		$maxSamples
	);

	$deadline = $duration > 0 ? microtime( true ) + $duration : INF;
	$profiler->start();
	for ( $i = 0; ; $i++ ) {
		MediaWiki::run( $i );
		if ( $failure !== null || ( $flushes > 0 && $flushCount >= $flushes )
			|| microtime( true ) >= $deadline
		) {
			break;
		}
	}
	$profiler->stop();
	// Excimer before 1.2.4 (Debian 12 ships 1.0.4) starts a glibc thread per timer event
	// (SIGEV_THREAD), and one still in flight when PHP shuts the extension down locks a
	// destroyed mutex: "pthread_mutex_lock(): Invalid argument" and SIGABRT, or SIGSEGV,
	// after the report was printed, in about 1 run in 20 at a 1 ms period on a busy
	// machine. The timer is stopped now, so no new event starts; give those already
	// started time to finish (upstream fixed it by joining one handler thread, T391426).
	usleep( 200000 );
	// Hands the samples since the last flush to the callback (MediaWiki relies on the
	// profiler's destructor doing the same at the end of a request).
	$profiler->flush();
	if ( $failure !== null ) {
		fail( $failure );
	}

	ksort( $stacks, SORT_STRING );
	echo json_encode( [
		'php' => PHP_VERSION,
		'excimer' => phpversion( 'excimer' ),
		'phpredis' => phpversion( 'redis' ),
		'stream' => $stream,
		'event' => $event,
		'period' => $period,
		'max_samples' => $maxSamples,
		'flushes' => $flushCount,
		'fixes' => $fixes,
		'entries' => $sent,
		'samples' => $samples,
		// An object even when empty ([] would be a list).
		'stacks' => (object)$stacks,
	], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR ), "\n";
}
